#!/bin/bash
# The directory tests' TLS material in DIR (made if missing), with P-256 keys, quick to
# make on a loaded machine (make_test_pki.sh's RSA keys can take minutes there):
#   ca.pem / ca.key           test CA
#   server.pem / server.key   for 127.0.0.1 and localhost, signed by the CA
#   other-ca.pem              another CA, which signed nothing here
# Usage: slapd_pki.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
umask 077
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
    newkey "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/O=lwauth tests/CN=$2" -days 30 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}
ca ca "lwauth directory test CA"
ca other-ca "another CA"
newkey server.key
openssl req -new -key server.key -subj "/O=lwauth tests/CN=127.0.0.1" -out server.csr
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl other-ca.key
chmod 0644 ./*.pem
