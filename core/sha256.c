/* SPDX-License-Identifier: MIT */
/* treedisk: SHA-256 through OpenSSL's libcrypto (EVP), the maintained
 * implementation Debian ships and that the OCI digests already use; it picks
 * the CPU's SHA extensions where there are some. */
#include <openssl/evp.h>
#include <stdlib.h>

#include "sha256.h"
#include "td.h"

void td_sha256_init(struct td_sha256 *s)
{
        s->ctx = EVP_MD_CTX_new();
        if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
                abort(); /* out of memory, or a libcrypto without SHA-256 */
}

void td_sha256_update(struct td_sha256 *s, const void *data, size_t len)
{
        EVP_DigestUpdate(s->ctx, data, len);
}

void td_sha256_final(struct td_sha256 *s, uint8_t out[32])
{
        unsigned len = 0;

        EVP_DigestFinal_ex(s->ctx, out, &len);
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
}
