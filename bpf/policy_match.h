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
 * Layout (little endian, offsets in bytes)
 * ----------------------------------------
 *   0                 struct af_pm_header
 *   AF_PM_BYTE_OFF    __u32 byte_col[256]     stride 1
 *   AF_PM_PAIR_OFF    __u16 pair_col[65536]   stride 2
 *   AF_PM_TABLE_OFF   rows, one per state: __u32 info; __u32 next[...]
 *
 * A row's offset from AF_PM_TABLE_OFF is its "row offset", at most
 * AF_PM_ROW_MAX. next[] entries are row offsets. The dead state's row is at
 * row offset 0, so a zeroed or out-of-range entry fails closed.
 *
 * Stride 1: one table load per byte. next[] has an entry per byte class;
 * byte_col[b] is the offset of b's entry within a row (4 + 4 * class).
 *
 * Stride 2: one table load per two bytes, which halves the chain of
 * dependent loads that bounds a walk's speed. Pairs of byte classes that act
 * alike in every state share a pair class, and next[] has one entry per pair
 * class. The two bytes, read as one little-endian __u16 (b0 | b1 << 8),
 * index pair_col[], the offset (4 + 4 * pair class) of the pair's entry in a
 * row. Paths hold no NUL, so pair_col[b0] (b1 = 0) is free to mean "b0,
 * then the end": a path with an odd byte count ends with it.
 *
 * The compiler picks stride 2 whenever the blob fits AF_PM_BLOB_MAX.
 *
 * Path buffers
 * ------------
 * In BPF the walk reads a chunk at a time from one pointer, so a path buffer
 * has AF_PM_BUF_SIZE bytes (AF_PM_PATH_MAX plus a chunk of slack), of which
 * bpf_d_path() may fill AF_PM_PATH_MAX. User space passes the path as is.
 *
 * Maps (production layout)
 * ------------------------
 * One blob per sandbox in an inner BPF_MAP_TYPE_ARRAY (one entry, value size
 * AF_PM_BLOB_MAX), installed at sandbox start into a HASH_OF_MAPS keyed by
 * the sandbox's cgroup id and removed at stop: one hash lookup finds the
 * sandbox, one more its blob, then the walk reads only that map value. See
 * bpf/policy_test.bpf.c for the declarations.
 */
#ifndef AGENTFENSE_POLICY_MATCH_H
#define AGENTFENSE_POLICY_MATCH_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define AF_PM_MAGIC   0x4d504641u /* "AFPM" */
#define AF_PM_VERSION 1
/* Paths longer than this fail closed (PATH_MAX). */
#define AF_PM_PATH_MAX	4096u
#define AF_PM_PATH_MASK (AF_PM_PATH_MAX - 1)
/* Bytes walked per loop iteration (a bpf_loop callback in BPF). */
#define AF_PM_CHUNK    64u
#define AF_PM_BUF_SIZE (AF_PM_PATH_MAX + AF_PM_CHUNK)
/* The value size of a blob map; compiled policies that do not fit fail. */
#define AF_PM_BLOB_MAX	(1u << 20)
#define AF_PM_BYTE_OFF	64u
#define AF_PM_PAIR_OFF	(AF_PM_BYTE_OFF + 256u * 4)
#define AF_PM_TABLE_OFF (AF_PM_PAIR_OFF + 65536u * 2)
#define AF_PM_TABLE_MAX (AF_PM_BLOB_MAX - AF_PM_TABLE_OFF)
/* Largest column offset within a row, and so the last row a walk reaches. */
#define AF_PM_COL_MAX 0xffffu
#define AF_PM_ROW_MAX (AF_PM_TABLE_MAX - 4 - AF_PM_COL_MAX)

/* info word: level as a file, as a directory, subtree floor (enum af_perm) */
#define AF_PM_INFO_FILE(i)	     ((i)&0xfu)
#define AF_PM_INFO_DIR(i)	     (((i) >> 4) & 0xfu)
#define AF_PM_INFO_FLOOR(i)	     (((i) >> 8) & 0xfu)
#define AF_PM_INFO(file, dir, floor) ((file) | (dir) << 4 | (floor) << 8)
#define AF_PM_LEVEL_NONE	     1u
/* The answer for anything that cannot be walked: none, fail closed. */
#define AF_PM_INFO_NONE AF_PM_INFO(1u, 1u, 1u)

struct af_pm_header {
	__u32 magic;
	__u16 version;
	__u16 stride;  /* 1 or 2 */
	__u32 size;    /* bytes used, header included */
	__u32 states;  /* rows */
	__u32 classes; /* byte classes */
	__u32 pairs;   /* pair classes (stride 2) */
	__u32 start;   /* row offset of the start (root) state */
	__u32 reserved[9];
};

#ifdef __bpf__
#define AF_PM_INLINE static __always_inline
#define AF_PM_UNROLL _Pragma("unroll")
/* Keep a value computed in its own register (no reassociation). */
#define AF_PM_PIN(x) asm volatile("" : "+r"(x))
#else
#define AF_PM_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define AF_PM_UNROLL _Pragma("unroll")
#elif defined(__OPTIMIZE__)
#define AF_PM_UNROLL _Pragma("GCC unroll 32")
#else
/* -O0: the stride is not a constant yet, and GCC warns the hint away. */
#define AF_PM_UNROLL
#endif
#define AF_PM_PIN(x) ((void)0)
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

/*
 * One step: the row of the next state. This load is the only one that
 * depends on the previous step, so its chain is kept to a compare and an
 * add: the column is added to the table pointer beforehand. Offsets are
 * 64-bit so the register the verifier saw checked is the one used. Anything
 * out of range is the dead state.
 */
AF_PM_INLINE __u64 af_pm_step(const __u8 *blob, __u64 off, __u32 col)
{
	const __u8 *row;
	__u64 next;

	if (col > AF_PM_COL_MAX || off > AF_PM_ROW_MAX)
		return 0;
	row = blob + AF_PM_TABLE_OFF + col;
	AF_PM_PIN(row);
	next = *(const __u32 *)(row + off);
	/*
	 * Bounded where it is loaded: clang may spill it and check one reload
	 * but add another, and the 6.1 verifier keeps no bounds for a reload
	 * of an unchecked spill (newer ones give spills an id).
	 */
	return next > AF_PM_ROW_MAX ? 0 : next;
}

/* Column of two bytes (stride 2), off the chain: one load. */
AF_PM_INLINE __u32 af_pm_pair_col(const __u8 *blob, __u16 pair)
{
	return *(const __u16 *)(blob + AF_PM_PAIR_OFF + ((__u32)pair << 1));
}

AF_PM_INLINE __u32 af_pm_byte_col(const __u8 *blob, __u8 b)
{
	return *(const __u32 *)(blob + AF_PM_BYTE_OFF + ((__u32)b << 2));
}

AF_PM_INLINE __u16 af_pm_load16(const __u8 *p)
{
	return p[0] | p[1] << 8; /* one unaligned load where it is allowed */
}

AF_PM_INLINE __u32 af_pm_info(const __u8 *blob, __u64 off)
{
	if (off > AF_PM_TABLE_MAX - 4)
		return AF_PM_INFO_NONE;
	return *(const __u32 *)(blob + AF_PM_TABLE_OFF + off);
}

/* n pairs (stride 2) or n bytes (stride 1) from p, unrolled. */
#define AF_PM_BLOCK(stride, n, blob, p, off)                                  \
	do {                                                                  \
		AF_PM_UNROLL                                                  \
		for (__u32 _k = 0; _k < (n); _k++) {                          \
			__u32 _col =                                          \
				(stride) == 2                                 \
					? af_pm_pair_col(                     \
						  (blob),                     \
						  AF_PM_LOAD16((p) + 2 * _k)) \
					: af_pm_byte_col((blob), (p)[_k]);    \
			(off) = af_pm_step((blob), (off), _col);              \
		}                                                             \
	} while (0)

#ifdef __bpf__
#define AF_PM_LOAD16(p) (*(const __u16 *)(p))
#else
#define AF_PM_LOAD16(p) af_pm_load16(p)
#endif

struct af_pm_walk {
	const __u8 *blob;
	const __u8 *buf; /* AF_PM_BUF_SIZE bytes in BPF */
	__u64 off;	 /* row offset of the current state */
	__u32 base;	 /* index in buf of the first byte walked */
	__u32 pad;
};

/* The chunk at buf[pos]; in BPF a pointer the verifier can bound. */
AF_PM_INLINE const __u8 *af_pm_at(const struct af_pm_walk *w, __u32 pos)
{
	return w->buf + (pos & AF_PM_PATH_MASK);
}

/*
 * Chunk i of the path. The position derives from i, not from a counter in
 * w: a counter would be a new constant on every callback iteration and keep
 * the verifier from ever seeing two iterations as equal. stride is a
 * constant where this is inlined, so each stride gets its own unrolled code.
 */
AF_PM_INLINE void af_pm_chunk(struct af_pm_walk *w, __u32 i, __u32 stride)
{
	const __u8 *blob = w->blob, *p = af_pm_at(w, w->base + i * AF_PM_CHUNK);
	__u64 off = w->off;

	AF_PM_BLOCK(stride, AF_PM_CHUNK / stride, blob, p, off);
	w->off = off;
}

AF_PM_INLINE void af_pm_chunk2(struct af_pm_walk *w, __u32 i)
{
	af_pm_chunk(w, i, 2);
}

AF_PM_INLINE void af_pm_chunk1(struct af_pm_walk *w, __u32 i)
{
	af_pm_chunk(w, i, 1);
}

/* A block of `bytes` bytes when n has that bit, unrolled. */
#define AF_PM_TAIL_BLOCK(stride, bytes, n, blob, p, off)                       \
	do {                                                                   \
		if ((n) & (bytes)) {                                           \
			AF_PM_BLOCK(stride, (bytes) / (stride), blob, p, off); \
			(p) += (bytes);                                        \
		}                                                              \
	} while (0)

/*
 * The last n < AF_PM_CHUNK bytes, from pos: unrolled blocks of 32, 16, 8, 4
 * and 2 bytes as n's bits say, then an odd byte, so no step needs a check.
 */
AF_PM_INLINE void af_pm_tail(struct af_pm_walk *w, __u32 pos, __u32 n,
			     __u32 stride)
{
	const __u8 *blob = w->blob, *p = af_pm_at(w, pos);
	__u64 off = w->off;

	AF_PM_TAIL_BLOCK(stride, 32, n, blob, p, off);
	AF_PM_TAIL_BLOCK(stride, 16, n, blob, p, off);
	AF_PM_TAIL_BLOCK(stride, 8, n, blob, p, off);
	AF_PM_TAIL_BLOCK(stride, 4, n, blob, p, off);
	AF_PM_TAIL_BLOCK(stride, 2, n, blob, p, off);
	/* Stride 2: the pair (last byte, NUL), the last byte then the end. */
	if (n & 1)
		off = af_pm_step(blob, off,
				 stride == 2 ? af_pm_pair_col(blob, p[0])
					     : af_pm_byte_col(blob, p[0]));
	w->off = off;
}

#ifdef __bpf__
static __attribute__((unused)) long af_pm_chunk2_cb(__u32 i, void *ctx)
{
	af_pm_chunk2(ctx, i);
	return 0;
}

static __attribute__((unused)) long af_pm_chunk1_cb(__u32 i, void *ctx)
{
	af_pm_chunk1(ctx, i);
	return 0;
}

/* bpf_loop (5.17+) keeps verification to one pass over a chunk. */
#define AF_PM_CHUNKS(n, fn, w) bpf_loop((n), fn##_cb, (w), 0)
#else
#define AF_PM_CHUNKS(n, fn, w)                     \
	do {                                       \
		for (__u32 _c = 0; _c < (n); _c++) \
			fn(w, _c);                 \
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
	__u32 n, chunks, tail;

	if (h->magic != AF_PM_MAGIC || h->version != AF_PM_VERSION)
		return AF_PM_INFO_NONE;
	if (len == 0 || len > AF_PM_PATH_MAX || start > AF_PM_PATH_MAX - len)
		return AF_PM_INFO_NONE;
	if (buf[start & AF_PM_PATH_MASK] != '/')
		return AF_PM_INFO_NONE;
	w.blob = blob;
	w.buf = buf;
	w.base = start + 1;
	w.off = h->start;
	n = len - 1;
	chunks = n / AF_PM_CHUNK;
	tail = w.base + chunks * AF_PM_CHUNK;
	if (h->stride == 2) {
		AF_PM_CHUNKS(chunks, af_pm_chunk2, &w);
		af_pm_tail(&w, tail, n % AF_PM_CHUNK, 2);
	} else if (h->stride == 1) {
		AF_PM_CHUNKS(chunks, af_pm_chunk1, &w);
		af_pm_tail(&w, tail, n % AF_PM_CHUNK, 1);
	} else {
		return AF_PM_INFO_NONE;
	}
	return af_pm_info(blob, w.off);
}

#endif
