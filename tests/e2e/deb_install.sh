#!/bin/bash
# Builds the Debian package from this source tree, installs it, checks what it installed and how it
# behaves, mounts a Space with `mount -t spacesfs` through the installed /sbin/mount.spacesfs,
# removes and purges it, and checks that what the administrator put in /etc/spacesfs stays.
#
#   bash tests/e2e/deb_install.sh [BUILD_DIR]        (as root; BUILD_DIR defaults to build-deb)
#
# Needs: cmake, g++, the build dependencies, dpkg-dev (dpkg-shlibdeps, used by cpack), fuse3 and
# procps (dependencies of the package), systemd (systemd-analyze), man-db (man). The mount needs the
# local radosgw's environment (SPACESFS_TEST_ENDPOINT, SPACESFS_TEST_OWNER_*, as tests/run exports
# it); without it the mount is skipped with a note. Refuses to run when a spacesfs package is
# already installed, so it never replaces one. While the package is installed it holds the lock
# the e2e tests take before they link /sbin/mount.spacesfs to a build. Prints PASS and exits 0 when
# every check held; otherwise prints the failed check and exits 1 (the package is purged either way).
# CTest runs it as e2e.deb_install (label e2e) on its own build tree when that tree is configured
# with -DCMAKE_INSTALL_PREFIX=/usr (tests/run does so): about 30 s then, as nothing is compiled.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-deb}
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; else fail "$what"; fi
}
installed() { dpkg-query -W -f='${db:Status-Abbrev}' spacesfs 2>/dev/null | grep -q '^ii'; }
known() { dpkg-query -W spacesfs >/dev/null 2>&1; }

[ "$(id -u)" = 0 ] || { echo "run as root (dpkg -i)" >&2; exit 2; }
for tool in cmake cpack dpkg-deb dpkg-shlibdeps systemd-analyze man; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
if known; then
  echo "a spacesfs package is already known to dpkg; not touching it" >&2
  exit 2
fi

etc_existed=no; [ -e /etc/spacesfs ] && etc_existed=yes
work=$(mktemp -d /tmp/spacesfs-deb-XXXXXX)
chmod 755 "$work"
cleanup() {
  if mountpoint -q "$work/mnt" 2>/dev/null; then umount -l "$work/mnt" || true; fi
  rm -rf "$work"
  if known; then dpkg -P spacesfs >/dev/null 2>&1 || true; fi
  rm -f /etc/spacesfs/credentials.d/deb-install-test
  if [ "$etc_existed" = no ]; then
    rmdir /etc/spacesfs/credentials.d /etc/spacesfs/mounts /etc/spacesfs 2>/dev/null || true
  fi
}
trap cleanup EXIT

# --- build (the package needs CMAKE_INSTALL_PREFIX=/usr; a tree configured so, such as the one
# tests/run builds, is used as it is, otherwise one of its own is configured) ---
if [ -f "$build/CMakeCache.txt" ]; then
  if ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$build/CMakeCache.txt"; then
    echo "$build was configured with another install prefix; give a build directory of its own" >&2
    exit 2
  fi
else
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
        -DSPACESFS_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j1 --target spacesfs spacesfs_man >/dev/null
rm -f "$build"/spacesfs_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
version=$(sed -n 's/^project(spacesfs VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb="$build/spacesfs_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "FAIL: $deb was not built" >&2; exit 1; }
echo "built $deb"

# --- inspect ---
info=$(dpkg-deb -I "$deb")
contents=$(dpkg-deb -c "$deb")
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
dep_names=$(tr ',' '\n' <<<"$depends" | awk '{print $1}')
for dep in fuse3 procps libc6 libstdc++6 libcurl4 libssl3 libtinyxml2-9 libinih1 libsystemd0; do
  check "Depends names $dep" grep -qxF "$dep" <<<"$dep_names"
done
check "Depends names an spdlog library package" grep -q '^libspdlog1' <<<"$dep_names"
check "Maintainer is set" test -n "$(dpkg-deb -f "$deb" Maintainer)"
check "credentials.example is a conffile" \
  sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/spacesfs/credentials.example"
check "postinst and postrm are shipped" grep -q postrm <<<"$info"
for path in ./usr/bin/spacesfs ./usr/sbin/mount.spacesfs ./usr/lib/systemd/system/spacesfs@.service \
            ./usr/lib/systemd/user/spacesfs@.service ./usr/share/man/man8/spacesfs.8.gz \
            ./usr/share/man/man8/mount.spacesfs.8.gz ./usr/share/man/man5/spacesfs-credentials.5.gz \
            ./usr/share/doc/spacesfs/OPERATIONS.md ./etc/spacesfs/credentials.example; do
  check "package holds $path" grep -q " $path\( \|$\)" <<<"$contents"
done
check "package does not ship /etc/spacesfs/credentials" \
  sh -c "! grep -q ' ./etc/spacesfs/credentials\$' <<'X'
$contents
X"

# --- install (holding the lock of the tests that link /sbin/mount.spacesfs) ---
exec 9>/run/lock/spacesfs-e2e-mount-helpers.lock
flock 9
if [ -e /sbin/mount.spacesfs ]; then
  echo "/sbin/mount.spacesfs exists but no spacesfs package is installed; not replacing it" >&2
  exit 2
fi
dpkg -i "$deb" >/dev/null
check "dpkg reports spacesfs installed" installed
check "spacesfs --version names $version" sh -c "spacesfs --version | grep -q '$version'"
check "mount.spacesfs is on the PATH" sh -c 'command -v mount.spacesfs'
check "/sbin/mount.spacesfs leads to /usr/bin/spacesfs" \
  test "$(readlink -f /sbin/mount.spacesfs)" = "$(readlink -f /usr/bin/spacesfs)"
check "/sbin/mount.spacesfs --version runs" sh -c "/sbin/mount.spacesfs --version | grep -q '$version'"
check "man finds spacesfs(8), mount.spacesfs(8), spacesfs-credentials(5)" \
  man -w spacesfs.8 mount.spacesfs.8 spacesfs-credentials.5
for unit in /lib/systemd/system/spacesfs@.service; do
  out=$(systemd-analyze verify "$unit" 2>&1) || true
  check "systemd-analyze verify $unit is silent (installed binary and man pages)" test -z "$out"
  [ -z "$out" ] || echo "$out" >&2
done
runtime=$(mktemp -d)
out=$(XDG_RUNTIME_DIR=$runtime systemd-analyze --user verify /usr/lib/systemd/user/spacesfs@.service 2>&1) || true
rm -rf "$runtime"
check "systemd-analyze --user verify of the user unit is silent" test -z "$out"
[ -z "$out" ] || echo "$out" >&2
check "credentials.example has mode 600" test "$(stat -c %a /etc/spacesfs/credentials.example)" = 600
check "credentials.d has mode 700" test "$(stat -c %a /etc/spacesfs/credentials.d)" = 700
check "/etc/spacesfs/mounts exists" test -d /etc/spacesfs/mounts
install -m 600 /dev/null /etc/spacesfs/credentials.d/deb-install-test

# --- mount -t spacesfs through the installed helper, on the local radosgw ---
if [ -n "${SPACESFS_TEST_ENDPOINT:-}" ] && [ -n "${SPACESFS_TEST_OWNER_ACCESS_KEY:-}" ]; then
  prefix="deb-install-$$-$(date +%s)"
  mkdir "$work/mnt"
  install -m 600 /dev/null "$work/credentials"
  cat >"$work/credentials" <<CREDENTIALS
[deb]
access_key_id = $SPACESFS_TEST_OWNER_ACCESS_KEY
secret_access_key = $SPACESFS_TEST_OWNER_SECRET_KEY
endpoint = $SPACESFS_TEST_ENDPOINT
region = ${SPACESFS_TEST_REGION:-us-east-1}
grant = team-a:fullaccess
CREDENTIALS
  check "mount -t spacesfs team-a:/$prefix" \
    mount -t spacesfs "team-a:/$prefix" "$work/mnt" -o "profile=deb,credentials=$work/credentials"
  check "the mount is fuse.spacesfs" sh -c "findmnt -n -o FSTYPE '$work/mnt' | grep -qx fuse.spacesfs"
  check "a file written through the mount" sh -c "echo from-the-deb > '$work/mnt/deb.txt'"
  pid=$(spacesfs stats "$work/mnt" 2>/dev/null | awk '$1 == "pid" {print $2}')
  check "spacesfs stats shows the daemon's counters" test -n "$pid"
  check "umount" umount "$work/mnt"
  for _ in $(seq 600); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  check "the daemon exited after umount" sh -c "! kill -0 '${pid:-0}' 2>/dev/null"
  listing=$(spacesfs ls -c "$work/credentials" -p deb "team-a:/$prefix/" 2>&1 || true)
  check "the object is on the server" grep -q "deb.txt" <<<"$listing"
  spacesfs cp -c "$work/credentials" -p deb "team-a:/$prefix/deb.txt" "$work/back.txt" >/dev/null 2>&1 || true
  check "the object holds what was written" sh -c "[ \"\$(cat '$work/back.txt')\" = from-the-deb ]"
  mount -t spacesfs "team-a:/$prefix" "$work/mnt" -o "profile=deb,credentials=$work/credentials" \
    >/dev/null 2>&1 && rm -f "$work/mnt/deb.txt" && umount "$work/mnt" || true
else
  echo "note: SPACESFS_TEST_* not set (no local radosgw): not mounting"
fi

# --- remove, then purge ---
dpkg -r spacesfs >/dev/null
check "spacesfs is gone after dpkg -r" sh -c '! test -e /usr/bin/spacesfs'
check "mount.spacesfs is gone after dpkg -r" sh -c '! test -e /usr/sbin/mount.spacesfs'
check "the system unit is gone after dpkg -r" sh -c '! test -e /lib/systemd/system/spacesfs@.service'
check "the conffile stays after dpkg -r" test -e /etc/spacesfs/credentials.example
dpkg -P spacesfs >/dev/null
check "dpkg forgot spacesfs after purge" sh -c '! dpkg-query -W spacesfs'
check "purge removed the conffile" sh -c '! test -e /etc/spacesfs/credentials.example'
check "purge left the administrator's files" test -e /etc/spacesfs/credentials.d/deb-install-test

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo PASS
