/* SPDX-License-Identifier: MIT */
/* treedisk: the image options shared by treedisk and treedisk-build, so both
 * binaries accept the same words with the same meaning.
 *
 *   --fs ext4|ext3|ext2      filesystem (default ext4)
 *   --label LABEL            filesystem label (16 bytes at most)
 *   --uuid UUID              filesystem UUID
 *   --seed STR               derive UUIDs, hash seed, disk id from STR
 *   --size N | +N            fixed disk size, or free space added (K/M/G/T)
 *   --table mbr|gpt          partition table (default mbr)
 *   --skip-unreadable        leave out unreadable entries, with a warning
 *   --owner UID:GID          every entry owned by UID:GID
 *   --uid-map FROM:TO,...    change listed uids
 *   --gid-map FROM:TO,...    change listed gids
 *   --devtable FILE          genext2fs/Buildroot device table
 *   --extra-tree DIR         lay DIR over the image (repeatable; the caller
 *                            frees opts->extra_trees)
 *   --grub                   make the disk bootable with GRUB
 *   --firmware bios|uefi|both  with --grub (default both)
 *   --secure-boot            UEFI through Debian's signed shim and GRUB
 *   --esp-size N             EFI System Partition size (default 64M)
 *   --grub-dir DIR           GRUB's i386-pc files (default /usr/lib/grub/i386-pc)
 *   --grub-efi-dir DIR       GRUB's x86_64-efi files (default /usr/lib/grub/x86_64-efi)
 *   --cmdline STR            appended to the kernel command line
 *   --fstab                  add an /etc/fstab mounting the root by UUID
 * SOURCE_DATE_EPOCH in the environment clamps timestamps.
 */
#pragma once

#include <getopt.h>

#include "image.h"

/* getopt_long values of the shared options start here; a binary's own
 * options use values below it. */
#define TD_CLI_OPT_BASE 0x1000

/* The shared options, terminated by a zero entry. */
extern const struct option td_cli_image_options[];
/* Help text of the shared options (lines indented by two spaces). */
extern const char td_cli_image_help[];

/* Applies option c (from td_cli_image_options) with argument arg.
 * Returns 1 if c was one of the shared options, 0 if not, or a negative errno
 * after printing an error naming the option. */
int td_cli_parse_image_option(int c, const char *arg, struct td_image_opts *opts);

/* Fills what the environment says (SOURCE_DATE_EPOCH).  Returns 0 or -EINVAL
 * (logged). */
int td_cli_parse_env(struct td_image_opts *opts);

/* Merges the shared options into a binary's own: returns a malloc'ed array
 * (own first), terminated by a zero entry. */
struct option *td_cli_merge_options(const struct option *own);

/* --owner ('o'), --uid-map ('u'), --gid-map ('g'): implemented with the
 * ownership code (owner.c).  Returns 1 or a negative errno (logged). */
int td_cli_parse_owner_option(char which, const char *arg, struct td_image_opts *opts);

/* A persistent overlay (treedisk --overlay FILE, nbdkit treedisk overlay=FILE)
 * belongs to one image: without --seed or --uuid the image's ids derive from
 * the overlay's absolute path, so that the next start with the same FILE,
 * through either front end, builds the same image and the overlay's identity
 * check passes.
 *
 * td_cli_overlay_abspath: FILE made absolute without following a last
 * component that does not exist yet (its directory must exist; symlinks in
 * the directory are resolved).  *ret: malloc'ed, the caller frees it.
 * Returns 0, or a negative errno after one logged line naming the option
 * as `what` says it ("--overlay", "overlay") and FILE.
 *
 * td_cli_overlay_seed: the seed string for such an absolute path,
 * "treedisk-overlay:" followed by it (malloc'ed; never NULL).  Stable across
 * releases: it decides the image's bytes. */
int td_cli_overlay_abspath(const char *path, const char *what, char **ret);
char *td_cli_overlay_seed(const char *abs_path);
