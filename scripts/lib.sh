# lib.sh: setup shared by scripts/test.sh and scripts/demo.sh (sourced, not
# run): the packages synth needs, its build and install, and a throwaway
# PostgreSQL cluster in a temporary directory.
#
# As root (a fresh Debian bookworm, CI) it installs what is missing and runs
# the cluster as the unprivileged user synthtest, since PostgreSQL refuses to
# run as root.  As any other user it expects the packages to be there and
# runs the cluster as that user.

# shellcheck shell=bash

SYNTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SYNTH_PG_MAJOR=15
SYNTH_CLUSTER_USER=synthtest
SYNTH_PACKAGES=(build-essential "postgresql-$SYNTH_PG_MAJOR" "postgresql-server-dev-$SYNTH_PG_MAJOR"
	libopenblas-dev libipc-run-perl perl)	# the last two: TAP tests (prove, IPC::Run)

if [ -z "${PG_CONFIG:-}" ]; then
	if [ -x "/usr/lib/postgresql/$SYNTH_PG_MAJOR/bin/pg_config" ]; then
		PG_CONFIG=/usr/lib/postgresql/$SYNTH_PG_MAJOR/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
export PG_CONFIG

SYNTH_PGDIR=""			# the cluster's temporary directory, once started

synth_say() { printf 'synth: %s\n' "$*"; }
synth_die() { printf 'synth: error: %s\n' "$*" >&2; exit 1; }
synth_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly, or through sudo when it needs no password.
synth_as_root() {
	if synth_is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		return 1
	fi
}

synth_package_installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

# Install the Debian packages that are missing (fast when none is).
synth_install_packages() {
	local missing=() pkg

	if ! command -v dpkg >/dev/null 2>&1; then
		synth_say "not a Debian system: assuming PostgreSQL $SYNTH_PG_MAJOR, its server headers and OpenBLAS are installed"
		return 0
	fi
	for pkg in "${SYNTH_PACKAGES[@]}"; do
		synth_package_installed "$pkg" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	if ! synth_is_root && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
		synth_die "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
	fi
	synth_say "installing ${missing[*]}"
	# The tests bring their own cluster: do not create and start 'main'.
	synth_as_root mkdir -p /etc/postgresql-common/createcluster.d
	echo 'create_main_cluster = false' |
		synth_as_root tee /etc/postgresql-common/createcluster.d/synth-no-main-cluster.conf >/dev/null
	synth_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	synth_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# Are the built files exactly the installed ones?  Lets a user without root
# run the tests once root has installed this build.
synth_install_is_current() {
	local pkglibdir=$1 extdir=$2 file
	for file in "$SYNTH_ROOT"/synth.so "$SYNTH_ROOT"/cuda/synth_cuda.so; do
		[ -f "$file" ] || continue
		cmp -s "$file" "$pkglibdir/$(basename "$file")" || return 1
	done
	for file in "$SYNTH_ROOT"/synth.control "$SYNTH_ROOT"/sql/synth--*.sql; do
		cmp -s "$file" "$extdir/$(basename "$file")" || return 1
	done
}

# Build synth (and synth_cuda.so where nvcc is found) and install it.
synth_build_install() {
	local pkglibdir extdir

	command -v "$PG_CONFIG" >/dev/null 2>&1 || synth_die "pg_config not found: install postgresql-server-dev-$SYNTH_PG_MAJOR or set PG_CONFIG"
	make -C "$SYNTH_ROOT" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG"

	pkglibdir=$("$PG_CONFIG" --pkglibdir)
	extdir=$("$PG_CONFIG" --sharedir)/extension
	if ! synth_is_root && synth_install_is_current "$pkglibdir" "$extdir"; then
		return 0
	elif [ -w "$pkglibdir" ] && [ -w "$extdir" ]; then
		make -C "$SYNTH_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	elif ! synth_as_root make -C "$SYNTH_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null; then
		synth_die "installing into $pkglibdir needs root: run 'sudo make install' in $SYNTH_ROOT, then this script again"
	fi
}

# Run a command as the cluster's owner, from the cluster's directory (initdb
# and postgres need a working directory they can read).
synth_as_owner() {
	if synth_is_root; then
		(cd "$SYNTH_PGDIR" && runuser -u "$SYNTH_CLUSTER_USER" -- "$@")
	else
		(cd "$SYNTH_PGDIR" && "$@")
	fi
}

# A TCP port nobody listens on (the cluster listens on a socket only, but a
# free port also keeps its socket and shared memory keys apart from others').
synth_free_port() {
	local port
	for port in $(shuf -i 20000-60000 -n 40); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	synth_die "no free TCP port found"
}

# initdb and start a cluster in a new temporary directory; exports PGHOST,
# PGPORT and PGUSER for psql and pg_regress.  Stop it with synth_cluster_stop.
synth_cluster_start() {
	local bindir port

	bindir=$("$PG_CONFIG" --bindir)
	if synth_is_root && ! id "$SYNTH_CLUSTER_USER" >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$SYNTH_CLUSTER_USER"
	fi
	# /tmp, not $TMPDIR: the socket path must stay short (107 bytes) and the
	# cluster's owner must be able to reach the directory
	SYNTH_PGDIR=$(mktemp -d /tmp/synth-pg.XXXXXX)
	synth_is_root && chown "$SYNTH_CLUSTER_USER:" "$SYNTH_PGDIR"

	port=$(synth_free_port)
	synth_as_owner "$bindir/initdb" -D "$SYNTH_PGDIR/data" -U postgres --auth=trust \
		--no-locale --encoding=UTF8 --no-sync >"$SYNTH_PGDIR/initdb.log" 2>&1 ||
		{ cat "$SYNTH_PGDIR/initdb.log" >&2; synth_die "initdb failed"; }
	cat >>"$SYNTH_PGDIR/data/postgresql.conf" <<-EOF

		# synth: a throwaway cluster for tests and the demo
		port = $port
		listen_addresses = ''
		unix_socket_directories = '$SYNTH_PGDIR'
		shared_preload_libraries = ''
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
	synth_as_owner "$bindir/pg_ctl" -D "$SYNTH_PGDIR/data" -l "$SYNTH_PGDIR/server.log" \
		-w -t 60 start >/dev/null ||
		{ tail -n 30 "$SYNTH_PGDIR/server.log" >&2; synth_die "the server did not start"; }

	export PGHOST=$SYNTH_PGDIR PGPORT=$port PGUSER=postgres
	synth_say "cluster running on port $port, socket and data in $SYNTH_PGDIR"
}

# The shell command that stops the cluster and removes its directory.
synth_cluster_stop_command() {
	local pg_ctl
	pg_ctl="$("$PG_CONFIG" --bindir)/pg_ctl -D $SYNTH_PGDIR/data -m fast stop"
	if synth_is_root; then
		echo "(cd $SYNTH_PGDIR && runuser -u $SYNTH_CLUSTER_USER -- $pg_ctl); rm -rf $SYNTH_PGDIR"
	else
		echo "$pg_ctl; rm -rf $SYNTH_PGDIR"
	fi
}

synth_cluster_stop() {
	[ -n "$SYNTH_PGDIR" ] && [ -d "$SYNTH_PGDIR" ] || return 0
	if [ -f "$SYNTH_PGDIR/data/postmaster.pid" ]; then
		synth_as_owner "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$SYNTH_PGDIR/data" -m fast stop \
			>/dev/null 2>&1 || true
	fi
	rm -rf "$SYNTH_PGDIR"
	SYNTH_PGDIR=""
}
