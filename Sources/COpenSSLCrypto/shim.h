// The system OpenSSL libcrypto (Debian: libssl-dev), used only for RSA signatures: OpenSSL 3 has an
// AVX-512 IFMA code path for RSA-2048 that the BoringSSL inside swift-crypto lacks (see
// Sources/StrongroomJOSE/OpenSSLRSASigner.swift).
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
