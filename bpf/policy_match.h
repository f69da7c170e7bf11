/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiled permission matcher: blob format and the walk that interprets
 * it. One header, compiled into user space (src/policy) and into BPF
 * programs, so both sides give the same answer by construction.
 *
 * BPF programs include vmlinux.h and bpf/bpf_helpers.h before this file.
 *
 * What the blob encodes
 * ---------------------
 * A minimized DFA over the bytes of a workspace path with its leading '/'
 * removed ("/src/a.py" walks "src/a.py"; the root walks nothing). Every state
 * carries an info word: the level a path ending there gets as a file and as
 * a directory, and the subtree floor (lowest level of that directory and of
 * anything that could exist below it). "A none directory hides its subtree"
 * is folded into the transitions: '/' after a none directory leads to the
 * dead state, whose levels are all none and which never leaves itself. So a
 * walk needs no checks per component; it ends in a state and reads its info.
 *
 * Layout (little endian, all offsets in bytes)
 * --------------------------------------------
 *   0                 struct af_pm_header
 *   AF_PM_ROW_OF_OFF  __u32 row_of[256]   per byte, see below
 *   AF_PM_COL_OF_OFF  __u32 col_of[256]   per byte, see below
 *   AF_PM_TABLE_OFF   rows, one per state: __u32 info; __u32 next[...]
 *   header.pair_off   stride 2 only: __u16 pair[classes][classes + 1]
 *
 * Rows are addressed by their offset from AF_PM_TABLE_OFF ("row offset");
 * the dead state's row is at row offset 0, so a zeroed or out-of-range entry
 * fails closed. next[] entries are row offsets.
 *
 * Stride 1: next[] has one entry per byte class; row_of[b] is the offset of
 * b's entry within a row (4 + 4 * class). One table load per byte.
 *
 * Stride 2: the walk consumes two bytes per table load. Pairs of byte classes
 * that act alike in every state share a "pair class"; next[] has one entry
 * per pair class. row_of[b] = pair_off + 2 * (classes + 1) * class(b) and
 * col_of[b] = 2 * class(b), so pair[] at row_of[b0] + col_of[b1] holds the
 * offset (4 + 4 * pair class) of the pair's entry within a row. A path with
 * an odd byte count ends with (last byte, pad), the pad column being
 * header.pad_col. Stride 2 halves the dependent-load chain, which is what
 * bounds the walk's speed; the compiler picks it whenever it fits.
 *
 * Maps (production layout)
 * ------------------------
 * One blob per sandbox in an inner BPF_MAP_TYPE_ARRAY (one entry, value
 * struct af_pm_blob), installed at sandbox start into a HASH_OF_MAPS keyed by
 * the sandbox's cgroup id and removed at stop: one hash lookup finds the
 * sandbox, one more its blob, then the walk reads only that map value. See
 * bpf/policy_test.bpf.c for the declarations.
 */
#ifndef AGENTFENSE_POLICY_MATCH_H
#define AGENTFENSE_POLICY_MATCH_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define AF_PM_MAGIC 0x4d504641u /* "AFPM" */
#define AF_PM_VERSION 1
/* Paths longer than this fail closed (PATH_MAX). */
#define AF_PM_PATH_MAX 4096u
#define AF_PM_PATH_MASK (AF_PM_PATH_MAX - 1)
/* The value size of a blob map; compiled policies that do not fit fail. */
#define AF_PM_BLOB_MAX (1u << 20)
#define AF_PM_ROW_OF_OFF 64u
#define AF_PM_COL_OF_OFF (AF_PM_ROW_OF_OFF + 256u * 4)
#define AF_PM_TABLE_OFF (AF_PM_COL_OF_OFF + 256u * 4)
#define AF_PM_TABLE_MAX (AF_PM_BLOB_MAX - AF_PM_TABLE_OFF)
/* Bytes walked per loop iteration (a bpf_loop callback in BPF). */
#define AF_PM_CHUNK 64u

/* info word: level as a file, as a directory, subtree floor (enum af_perm) */
#define AF_PM_INFO_FILE(i) ((i) & 0xfu)
#define AF_PM_INFO_DIR(i) (((i) >> 4) & 0xfu)
#define AF_PM_INFO_FLOOR(i) (((i) >> 8) & 0xfu)
#define AF_PM_INFO(file, dir, floor) ((file) | (dir) << 4 | (floor) << 8)
#define AF_PM_LEVEL_NONE 1u
/* The answer for anything that cannot be walked: none, fail closed. */
#define AF_PM_INFO_NONE AF_PM_INFO(1u, 1u, 1u)

struct af_pm_header {
	__u32 magic;
	__u16 version;
	__u16 stride;	 /* 1 or 2 */
	__u32 size;	 /* bytes used, header included */
	__u32 states;	 /* rows */
	__u32 classes;	 /* byte classes */
	__u32 pairs;	 /* pair classes (stride 2) */
	__u32 start;	 /* row offset of the start (root) state */
	__u32 pair_off;	 /* stride 2: offset of pair[] in the blob */
	__u32 pad_col;	 /* stride 2: col_of value of the pad class */
	__u32 reserved[7];
};

struct af_pm_blob {
	__u8 bytes[AF_PM_BLOB_MAX];
};

#ifdef __bpf__
#define AF_PM_INLINE static __always_inline
#define AF_PM_UNROLL _Pragma("unroll")
#else
#define AF_PM_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define AF_PM_UNROLL _Pragma("unroll")
#else
#define AF_PM_UNROLL _Pragma("GCC unroll 32")
#endif
#endif

/* Level (enum af_perm value) from an info word; anything odd is none. */
AF_PM_INLINE __u32 af_pm_level(__u32 info, int is_dir)
{
	__u32 v = is_dir ? AF_PM_INFO_DIR(info) : AF_PM_INFO_FILE(info);

	return v >= 1 && v <= 4 ? v : AF_PM_LEVEL_NONE;
}

AF_PM_INLINE __u32 af_pm_floor(__u32 info)
{
	__u32 v = AF_PM_INFO_FLOOR(info);

	return v >= 1 && v <= 4 ? v : AF_PM_LEVEL_NONE;
}

AF_PM_INLINE __u32 af_pm_row_of(const __u8 *blob, __u8 b)
{
	return *(const __u32 *)(blob + AF_PM_ROW_OF_OFF + ((__u32)b << 2));
}

AF_PM_INLINE __u32 af_pm_col_of(const __u8 *blob, __u8 b)
{
	return *(const __u32 *)(blob + AF_PM_COL_OF_OFF + ((__u32)b << 2));
}

/* The one dependent load per step; out of range means the dead state. */
AF_PM_INLINE __u32 af_pm_next(const __u8 *blob, __u32 off, __u32 col)
{
	__u64 e = (__u64)off + col;

	if (e > AF_PM_TABLE_MAX - 4)
		return 0;
	return *(const __u32 *)(blob + AF_PM_TABLE_OFF + e);
}

/* Column of a byte pair (stride 2); computed off the load chain. */
AF_PM_INLINE __u32 af_pm_pair_col(const __u8 *blob, __u32 row, __u32 col)
{
	__u64 pi = (__u64)row + col;

	if (pi > AF_PM_BLOB_MAX - 2)
		return AF_PM_TABLE_MAX; /* leads to the dead state */
	return *(const __u16 *)(blob + pi);
}

AF_PM_INLINE __u32 af_pm_info(const __u8 *blob, __u32 off)
{
	if (off > AF_PM_TABLE_MAX - 4)
		return AF_PM_INFO_NONE;
	return *(const __u32 *)(blob + AF_PM_TABLE_OFF + off);
}

struct af_pm_walk {
	const __u8 *blob;
	const __u8 *buf; /* AF_PM_PATH_MAX bytes in BPF */
	__u32 pos;	 /* index in buf of the next byte */
	__u32 off;	 /* row offset of the current state */
};

AF_PM_INLINE __u8 af_pm_byte(const struct af_pm_walk *w, __u32 i)
{
	return w->buf[i & AF_PM_PATH_MASK];
}

AF_PM_INLINE void af_pm_chunk2(struct af_pm_walk *w)
{
	const __u8 *blob = w->blob, *buf = w->buf;
	__u32 pos = w->pos, off = w->off;

	AF_PM_UNROLL
	for (__u32 k = 0; k < AF_PM_CHUNK; k += 2) {
		__u8 b0 = buf[(pos + k) & AF_PM_PATH_MASK];
		__u8 b1 = buf[(pos + k + 1) & AF_PM_PATH_MASK];
		__u32 col = af_pm_pair_col(blob, af_pm_row_of(blob, b0),
					   af_pm_col_of(blob, b1));

		off = af_pm_next(blob, off, col);
	}
	w->pos = pos + AF_PM_CHUNK;
	w->off = off;
}

AF_PM_INLINE void af_pm_chunk1(struct af_pm_walk *w)
{
	const __u8 *blob = w->blob, *buf = w->buf;
	__u32 pos = w->pos, off = w->off;

	AF_PM_UNROLL
	for (__u32 k = 0; k < AF_PM_CHUNK; k++) {
		__u8 b = buf[(pos + k) & AF_PM_PATH_MASK];

		off = af_pm_next(blob, off, af_pm_row_of(blob, b));
	}
	w->pos = pos + AF_PM_CHUNK;
	w->off = off;
}

/* The last n < AF_PM_CHUNK bytes. */
AF_PM_INLINE void af_pm_tail2(struct af_pm_walk *w, __u32 n)
{
	const struct af_pm_header *h = (const void *)w->blob;
	__u32 k;

	for (k = 0; k + 1 < AF_PM_CHUNK; k += 2) {
		if (k + 1 >= n)
			break;
		w->off = af_pm_next(
			w->blob, w->off,
			af_pm_pair_col(w->blob,
				       af_pm_row_of(w->blob,
						    af_pm_byte(w, w->pos + k)),
				       af_pm_col_of(w->blob, af_pm_byte(
							w, w->pos + k + 1))));
	}
	if (n & 1) {
		__u8 b = af_pm_byte(w, w->pos + n - 1);

		w->off = af_pm_next(w->blob, w->off,
				    af_pm_pair_col(w->blob,
						   af_pm_row_of(w->blob, b),
						   h->pad_col));
	}
}

AF_PM_INLINE void af_pm_tail1(struct af_pm_walk *w, __u32 n)
{
	for (__u32 k = 0; k < AF_PM_CHUNK; k++) {
		if (k >= n)
			break;
		w->off = af_pm_next(w->blob, w->off,
				    af_pm_row_of(w->blob,
						 af_pm_byte(w, w->pos + k)));
	}
}

#ifdef __bpf__
static __attribute__((unused)) long af_pm_chunk2_cb(__u32 i, void *ctx)
{
	af_pm_chunk2(ctx);
	return 0;
}

static __attribute__((unused)) long af_pm_chunk1_cb(__u32 i, void *ctx)
{
	af_pm_chunk1(ctx);
	return 0;
}

/* bpf_loop (5.17+) keeps verification to one pass over a chunk. */
#define AF_PM_CHUNKS(n, fn, w) bpf_loop((n), fn##_cb, (w), 0)
#else
#define AF_PM_CHUNKS(n, fn, w)                                                 \
	do {                                                                   \
		for (__u32 _c = 0; _c < (n); _c++)                             \
			fn(w);                                                 \
	} while (0)
#endif

/*
 * Walk the workspace path buf[start, start + len), which starts with '/',
 * and return the info word of the state it ends in. Anything malformed (no
 * blob, wrong version, no leading '/', too long) gives AF_PM_INFO_NONE.
 */
AF_PM_INLINE __u32 af_pm_walk(const __u8 *blob, const __u8 *buf, __u32 start,
			      __u32 len)
{
	const struct af_pm_header *h = (const void *)blob;
	struct af_pm_walk w;
	__u32 n, chunks;

	if (h->magic != AF_PM_MAGIC || h->version != AF_PM_VERSION)
		return AF_PM_INFO_NONE;
	if (len == 0 || len > AF_PM_PATH_MAX || start > AF_PM_PATH_MAX - len)
		return AF_PM_INFO_NONE;
	if (buf[start & AF_PM_PATH_MASK] != '/')
		return AF_PM_INFO_NONE;
	w.blob = blob;
	w.buf = buf;
	w.pos = start + 1;
	w.off = h->start;
	n = len - 1;
	chunks = n / AF_PM_CHUNK;
	if (h->stride == 2) {
		AF_PM_CHUNKS(chunks, af_pm_chunk2, &w);
		af_pm_tail2(&w, n % AF_PM_CHUNK);
	} else if (h->stride == 1) {
		AF_PM_CHUNKS(chunks, af_pm_chunk1, &w);
		af_pm_tail1(&w, n % AF_PM_CHUNK);
	} else {
		return AF_PM_INFO_NONE;
	}
	return af_pm_info(blob, w.off);
}

#endif
