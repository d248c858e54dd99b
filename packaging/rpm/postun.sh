if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	# $1 >= 1: upgrade (this runs from the old package, after the new one is installed). Running
	# agents restart on the new executable with a hand-over (docs/ha-rules.md#hand-over):
	# PostgreSQL keeps running, the leader keeps its key, no failover. The VIP manager keeps its
	# address on SIGTERM, so a try-restart suffices.
	if [ "$1" -ge 1 ]; then
		/usr/libexec/hactl/handover-restart || :
		systemctl try-restart 'hactl-vip@*.service' >/dev/null 2>&1 || :
	fi
fi
exit 0
