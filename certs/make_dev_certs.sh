#!/usr/bin/env bash
# make_dev_certs.sh: a development CA plus server and client certificates, for
# `courier serve` on first run and for the integration tests. Never for production.
#
#   certs/make_dev_certs.sh [--client-cn NAME] [--days N] [--force] DIR
#
# Writes into DIR (created when missing):
#   ca.crt ca.key                  the development CA (EC P-256, self-signed)
#   server.crt server.key          CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (and ::1)
#   client.crt client.key          CN=<client-cn> (default courier-dev-client), SAN DNS:<client-cn>
# Existing files are kept unless --force is given (so reruns are harmless).
# Run it twice into two directories to get a second, unrelated CA (tests use that
# for "a client certificate from another CA").
set -euo pipefail

client_cn="courier-dev-client"
days=825
force=0
dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --client-cn) client_cn="$2"; shift 2 ;;
    --days) days="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "make_dev_certs.sh: unknown option $1" >&2; exit 2 ;;
    *) dir="$1"; shift ;;
  esac
done
if [[ -z "$dir" ]]; then
  echo "usage: make_dev_certs.sh [--client-cn NAME] [--days N] [--force] DIR" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "make_dev_certs.sh: openssl not found" >&2; exit 1; }

mkdir -p "$dir"
cd "$dir"
if [[ $force -eq 0 && -s ca.crt && -s server.crt && -s server.key && -s client.crt && -s client.key ]]; then
  exit 0
fi

umask 077
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# CA
newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/O=Courier development/CN=Courier Dev CA $(date +%s)-$$" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt

sign() {  # sign NAME SUBJECT EXTFILE
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -CAserial "$tmp/ca.srl" \
    -days "$days" -sha256 -extfile "$3" -out "$1.crt" 2>/dev/null
}

cat > "$tmp/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
sign server "/O=Courier development/CN=localhost" "$tmp/server.ext"

cat > "$tmp/client.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:${client_cn}
EXT
sign client "/O=Courier development/CN=${client_cn}" "$tmp/client.ext"

chmod 600 ./*.key
chmod 644 ./*.crt
