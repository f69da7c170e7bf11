/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-bound ownership helpers (GNU C cleanup attribute). */
#ifndef AGENTFENSE_CLEANUP_H
#define AGENTFENSE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void af_freep(void *p)
{
	free(*(void **)p);
}
static inline void af_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void af_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void af_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_	   _cleanup_(af_freep)
#define _cleanup_close_	   _cleanup_(af_closep)
#define _cleanup_fclose_   _cleanup_(af_fclosep)
#define _cleanup_closedir_ _cleanup_(af_closedirp)

/* Hand ownership on: returns the value and disarms the cleanup. */
#define TAKE_PTR(p)                         \
	({                                  \
		__typeof__(p) _taken = (p); \
		(p) = NULL;                 \
		_taken;                     \
	})
#define TAKE_FD(fd)                \
	({                         \
		int _taken = (fd); \
		(fd) = -1;         \
		_taken;            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
