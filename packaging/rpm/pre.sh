# Patroni runs as postgres; create it as the PGDG server package does (uid/gid 26) when hactl
# is installed before PostgreSQL.
getent group postgres >/dev/null || groupadd -g 26 -o -r postgres
getent passwd postgres >/dev/null || \
	useradd -M -g postgres -o -r -d /var/lib/pgsql -s /bin/bash -c "PostgreSQL Server" -u 26 postgres
exit 0
