/*
 * OpenSSL's C library doing the S/MIME operations `cachet bench` measures, in-process in a
 * loop: the peer of scripts/bench-smime.sh. Build: cc -O2 -o peer openssl_smime_bench.c -lcrypto
 * Usage: peer sign|verify CERT KEY CHAIN ROOT MESSAGE SECONDS  -> prints operations per second.
 * sign:   CMS_sign (detached, streamed) and SMIME_write_CMS of multipart/signed into memory.
 * verify: SMIME_read_CMS of a message signed once, then CMS_verify against ROOT (with CHAIN).
 */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "peer: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static STACK_OF(X509) *read_certs(const char *path) {
    BIO *b = BIO_new_file(path, "r");
    if (!b) die(path);
    STACK_OF(X509) *s = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) sk_X509_push(s, x);
    ERR_clear_error();
    BIO_free(b);
    return s;
}

static char *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len);
    if (fread(buf, 1, *len, f) != (size_t)*len) die("read");
    fclose(f);
    return buf;
}

/* One detached S/MIME signature of msg, written as multipart/signed into a memory BIO. */
static BIO *sign_once(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain, const char *msg, long len) {
    BIO *in = BIO_new_mem_buf(msg, (int)len);
    /* As `openssl smime -sign` does: CMS_STREAM defers the digest to SMIME_write_CMS, which
     * reads the content once while writing multipart/signed. */
    int flags = CMS_DETACHED | CMS_BINARY | CMS_STREAM;
    CMS_ContentInfo *cms = CMS_sign(cert, key, chain, in, flags);
    if (!cms) die("CMS_sign");
    BIO *out = BIO_new(BIO_s_mem());
    if (!SMIME_write_CMS(out, cms, in, flags)) die("SMIME_write_CMS");
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return out;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s sign|verify CERT KEY CHAIN ROOT MESSAGE SECONDS\n", argv[0]);
        return 2;
    }
    STACK_OF(X509) *certs = read_certs(argv[2]);
    X509 *cert = sk_X509_value(certs, 0);
    BIO *kb = BIO_new_file(argv[3], "r");
    EVP_PKEY *key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    if (!key) die("key");
    STACK_OF(X509) *chain = read_certs(argv[4]);
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *roots = read_certs(argv[5]);
    for (int i = 0; i < sk_X509_num(roots); i++) X509_STORE_add_cert(store, sk_X509_value(roots, i));
    long len;
    char *msg = read_file(argv[6], &len);
    double seconds = atof(argv[7]);
    long n = 0;
    double start = now();
    if (strcmp(argv[1], "sign") == 0) {
        do {
            BIO *out = sign_once(cert, key, chain, msg, len);
            BIO_free(out);
            n++;
        } while (now() - start < seconds);
    } else {
        BIO *signed_msg = sign_once(cert, key, chain, msg, len);
        char *data;
        long slen = BIO_get_mem_data(signed_msg, &data);
        start = now();
        do {
            BIO *in = BIO_new_mem_buf(data, (int)slen);
            BIO *content = NULL;
            CMS_ContentInfo *cms = SMIME_read_CMS(in, &content);
            if (!cms) die("SMIME_read_CMS");
            BIO *out = BIO_new(BIO_s_mem());
            if (!CMS_verify(cms, chain, store, content, out, CMS_BINARY)) die("CMS_verify");
            BIO_free(out);
            BIO_free(content);
            CMS_ContentInfo_free(cms);
            BIO_free(in);
            n++;
        } while (now() - start < seconds);
    }
    printf("%.1f\n", n / (now() - start));
    return 0;
}
