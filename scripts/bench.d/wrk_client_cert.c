/*
 * LD_PRELOAD shim that lets wrk present a TLS client certificate.
 *
 * wrk (4.x) has no option for a client certificate, but it is linked dynamically against
 * libssl and creates its one SSL_CTX with SSL_CTX_new(). This shim wraps that call and, when
 * BENCH_CLIENT_CERT and BENCH_CLIENT_KEY name PEM files, loads them into the new context, so
 * every connection wrk opens offers that certificate (needed for the mutual-TLS alias and
 * certificate-bound tokens, RFC 8705). Nothing else in wrk changes.
 *
 * Build: cc -shared -fPIC -O2 -o wrk_client_cert.so wrk_client_cert.c -ldl
 * The OpenSSL prototypes are declared here so that no -dev package is needed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;

#define BENCH_SSL_FILETYPE_PEM 1

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
    static SSL_CTX *(*real_new)(const SSL_METHOD *) = NULL;
    static int (*use_chain)(SSL_CTX *, const char *) = NULL;
    static int (*use_key)(SSL_CTX *, const char *, int) = NULL;
    static int (*check_key)(const SSL_CTX *) = NULL;
    if (!real_new) {
        real_new = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
        use_chain = (int (*)(SSL_CTX *, const char *)) dlsym(RTLD_DEFAULT, "SSL_CTX_use_certificate_chain_file");
        use_key = (int (*)(SSL_CTX *, const char *, int)) dlsym(RTLD_DEFAULT, "SSL_CTX_use_PrivateKey_file");
        check_key = (int (*)(const SSL_CTX *)) dlsym(RTLD_DEFAULT, "SSL_CTX_check_private_key");
    }
    if (!real_new) { fprintf(stderr, "wrk_client_cert: SSL_CTX_new not found\n"); abort(); }
    SSL_CTX *ctx = real_new(method);
    const char *cert = getenv("BENCH_CLIENT_CERT");
    const char *key = getenv("BENCH_CLIENT_KEY");
    if (ctx && cert && key && *cert && *key) {
        if (!use_chain || !use_key || use_chain(ctx, cert) != 1 || use_key(ctx, key, BENCH_SSL_FILETYPE_PEM) != 1
            || (check_key && check_key(ctx) != 1)) {
            fprintf(stderr, "wrk_client_cert: cannot load client certificate %s / key %s\n", cert, key);
            abort();
        }
    }
    return ctx;
}
