if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	# $1 >= 1: upgrade. Running agents restart on the new executable; PostgreSQL keeps running.
	if [ "$1" -ge 1 ]; then
		systemctl try-restart 'hactl.service' 'hactl@*.service' 'hactl-vip@*.service' >/dev/null 2>&1 || :
	fi
fi
exit 0
