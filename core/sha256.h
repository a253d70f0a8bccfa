/* SPDX-License-Identifier: MIT */
/* treedisk: SHA-256 (FIPS 180-4), for identities made of an image's bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct td_sha256 {
        uint32_t h[8];
        uint64_t len;
        uint8_t buf[64];
        size_t n;
};
void td_sha256_init(struct td_sha256 *s);
void td_sha256_update(struct td_sha256 *s, const void *data, size_t len);
void td_sha256_final(struct td_sha256 *s, uint8_t out[32]);
