#!/bin/bash
# Creates throw-away TLS material for the gateway fakes in DIR (made if missing):
#   ca.pem / ca.key                   test CA
#   server.pem / server.key           for 127.0.0.1 and localhost, signed by the CA
#   selfsigned.pem / selfsigned.key   same names, but self-signed (not trusted by the CA)
#   wronghost.pem / wronghost.key     signed by the CA, for wrong.example only
#   lineworks.key / lineworks.pub.pem RSA key pair of the LINE WORKS service account
#                                     (PKCS#8, as the LINE WORKS Developer Console issues it)
# Usage: make_test_pki.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
days=30
subj() { printf '/O=lwauth tests/CN=%s' "$1"; }

newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# sign NAME CN SAN: NAME.key + NAME.pem signed by the CA for SAN (an openssl subjectAltName value)
sign() {
    newkey "$1.key"
    openssl req -new -key "$1.key" -subj "$(subj "$2")" -out "$1.csr"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=$3" \
        "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

newkey ca.key
openssl req -x509 -new -key ca.key -subj "$(subj 'lwauth test CA')" -days "$days" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem

sign server 127.0.0.1 "IP:127.0.0.1,DNS:localhost"
sign wronghost wrong.example "DNS:wrong.example"

newkey selfsigned.key
openssl req -x509 -new -key selfsigned.key -subj "$(subj 127.0.0.1)" -days "$days" -sha256 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "extendedKeyUsage=serverAuth" \
    -out selfsigned.pem

newkey lineworks.key
openssl pkey -in lineworks.key -pubout -out lineworks.pub.pem

rm -f ca.srl
chmod 0644 ./*.pem
