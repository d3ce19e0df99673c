#!/usr/bin/env bash
# Elastic Beanstalk predeploy hook (bundle paths: .platform/hooks/predeploy/ and
# .platform/confighooks/predeploy/): stops a deployment, before any container starts, when
# the environment properties lack what OpenAlgo needs. Elastic Beanstalk has written them
# into the staging directory's .env by then. Names are printed, values never.
#
#   check-environment.sh [ENV_FILE]      (default /var/app/staging/.env)
set -euo pipefail

env_file="${1:-/var/app/staging/.env}"
required=(SECRET_KEY API_KEY_PEPPER FERNET_KEYS DATABASE_URL REDIS_URL ALLOWED_HOSTS)

value_of() {
  # The value of NAME in the env file ('' when absent); never echoed to the log.
  sed -n "s/^$1=//p" "$env_file" 2>/dev/null | tail -n 1
}

missing=()
for name in "${required[@]}"; do
  [ -n "$(value_of "$name")" ] || missing+=("$name")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "OpenAlgo: set these environment properties (eb setenv NAME=value ...): ${missing[*]}" >&2
  echo "Generate the three secrets once with deploy/make-env.sh and keep them (see deploy/README.md)." >&2
  exit 1
fi

case "$(value_of DATABASE_URL)" in
  postgres://* | postgresql://*) ;;
  *) echo "OpenAlgo: DATABASE_URL must be a PostgreSQL URL (RDS): postgres://USER:PASSWORD@HOST:5432/NAME" >&2
     exit 1 ;;
esac
case "$(value_of REDIS_URL)" in
  redis://* | rediss://*) ;;
  *) echo "OpenAlgo: REDIS_URL must be a Redis URL (ElastiCache): redis://HOST:6379/0 or rediss://..." >&2
     exit 1 ;;
esac
echo "OpenAlgo: environment properties present (${required[*]})"
