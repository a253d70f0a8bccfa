/* SPDX-License-Identifier: MIT */
/* treedisk: SHA-256 (FIPS 180-4), for identities made of an image's bytes;
 * OpenSSL's libcrypto underneath (core/sha256.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct td_sha256 {
        struct evp_md_ctx_st *ctx; /* OpenSSL's EVP_MD_CTX */
};
/* init, any number of updates, final (which frees the context). */
void td_sha256_init(struct td_sha256 *s);
void td_sha256_update(struct td_sha256 *s, const void *data, size_t len);
void td_sha256_final(struct td_sha256 *s, uint8_t out[32]);
