# $1 = 0: erase (not upgrade). Each agent demotes and stops its PostgreSQL.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
	systemctl stop 'hactl.service' 'hactl@*.service' 'hactl-vip@*.service' >/dev/null 2>&1 || :
fi
exit 0
