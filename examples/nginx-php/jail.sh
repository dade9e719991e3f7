#!/usr/bin/env bash
# nginx + php-fpm8.2 in a chroot jail, built with elfcopy alone: the job of the article's chroot.sh,
# n2chroot and init scripts. Run as root on Debian 12 with nginx and php8.2-fpm installed.
#
#   examples/nginx-php/jail.sh build     lay out the jail and copy both daemons with everything they load
#   examples/nginx-php/jail.sh start     start php-fpm and nginx inside the jail on 127.0.0.1:$PORT
#   examples/nginx-php/jail.sh stop      stop both, by their pid files
#   examples/nginx-php/jail.sh check     verify and audit the jail
#   examples/nginx-php/jail.sh image     the same jail as an OCI image layout in $IMAGE, with its SBOM beside it
#
# Environment: JAIL (default /srv/elfcopy-jail), PORT (default 8080), ELFCOPY (a command line that runs
# elfcopy, e.g. "node packages/cli/bin/elfcopy.cjs"; default: elfcopy on PATH, which after `npm ci` is
# node_modules/.bin/elfcopy), IMAGE (default $JAIL.oci), TAG (default elfcopy/nginx-php:latest).
set -euo pipefail

JAIL=${JAIL:-/srv/elfcopy-jail}
PORT=${PORT:-8080}
ELFCOPY=${ELFCOPY:-}
if [ -z "$ELFCOPY" ] && ! type -P elfcopy >/dev/null; then
  echo "$0: elfcopy is not on PATH (after npm ci: export PATH=\"\$PWD/node_modules/.bin:\$PATH\"), and ELFCOPY is not set" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
PHP_FPM=/usr/sbin/php-fpm8.2
WRITABLE=www-data:/var/lib/nginx,/var/log/nginx,/run/php,/var/lib/php/sessions

# 'command' runs the elfcopy on PATH, never this function: a function calling itself would recurse until
# bash overflows its stack.
elfcopy() {
  if [ -n "$ELFCOPY" ]; then $ELFCOPY "$@"; else command elfcopy "$@"; fi
}

build() {
  mkdir -p "$JAIL"
  # 1. The skeleton (article: "chroot() environment" + "Adjust chroot() security"): /dev nodes, /etc
  #    essentials, a jail nsswitch.conf, www-data without any root account, writable runtime dirs.
  elfcopy init "$JAIL" --user www-data --writable "$WRITABLE"
  # 2. Both daemons with their loader, libraries, NSS modules (article: n2chroot + the libnss_* fix),
  #    PHP's extensions with their libraries and conf.d (article: the for-loop over php5/20131226),
  #    zoneinfo, gconv, CA bundle, ImageMagick coders, resolver files (what the article found by hand).
  elfcopy /usr/sbin/nginx "$PHP_FPM" /usr/bin/php8.2 --into "$JAIL" --with auto,gconv --quiet
  # 3. The site's own configuration: not elfcopy's business, so it is copied here.
  install -d -m 0755 "$JAIL/srv/www"
  install -m 0644 "$HERE/site/index.php" "$JAIL/srv/www/index.php"
  sed "s/@PORT@/$PORT/" "$HERE/site/nginx.conf" > "$JAIL/etc/nginx/elfcopy-site.conf"
  install -m 0644 "$HERE/site/php-fpm.conf" "$JAIL/etc/php/8.2/fpm/elfcopy-pool.conf"
  # 4. Check it before anything runs (the article's "check the jail by hand").
  check
}

check() {
  elfcopy verify "$JAIL"
  elfcopy audit "$JAIL" --writable "$WRITABLE"
}

pid_of() { # pid file inside the jail -> pid, only if that process's root is this jail
  local f="$JAIL$1" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$(readlink -f "$JAIL")" ] || return 1
  echo "$pid"
}

start() {
  chroot "$JAIL" "$PHP_FPM" --fpm-config /etc/php/8.2/fpm/elfcopy-pool.conf
  chroot "$JAIL" /usr/sbin/nginx -t -c /etc/nginx/elfcopy-site.conf -q
  chroot "$JAIL" /usr/sbin/nginx -c /etc/nginx/elfcopy-site.conf
  for _ in $(seq 50); do pid_of /run/nginx.pid >/dev/null && pid_of /run/php/php-fpm.pid >/dev/null && break; sleep 0.1; done
  echo "nginx $(pid_of /run/nginx.pid) and php-fpm $(pid_of /run/php/php-fpm.pid) running in $JAIL on http://127.0.0.1:$PORT/"
}

stop() { # by pid file, never by name (the article's `pgrep nginx | xargs kill -9` kills every nginx)
  local f pid
  for f in /run/nginx.pid /run/php/php-fpm.pid; do
    if pid=$(pid_of "$f"); then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
  done
  return 0
}

image() { # one layer, reproducible (SOURCE_DATE_EPOCH, default 0); run php-fpm beside it as `start` does
  local dir=${IMAGE:-$JAIL.oci}
  elfcopy image "$JAIL" --oci "$dir" --tag "${TAG:-elfcopy/nginx-php:latest}" \
    --entrypoint '["/usr/sbin/nginx","-g","daemon off;","-c","/etc/nginx/elfcopy-site.conf"]' \
    --expose "$PORT/tcp" --sbom "$dir.cdx.json"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  check) check ;;
  image) image ;;
  *) echo "usage: $0 build|start|stop|check|image" >&2; exit 2 ;;
esac
