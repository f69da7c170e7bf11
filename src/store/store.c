// SPDX-License-Identifier: Apache-2.0
/* Opening and closing the store. */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

/* Codebase files may hold secrets: only the daemon reads them directly. */
#define STORE_CB_ROOT_MODE 0700

static int open_cb_root(struct store *s)
{
	int fd;

	fd = openat(AT_FDCWD, s->state_dir, STORE_DIR_OPEN);
	if (fd < 0)
		return log_errno(-errno, "state dir %s", s->state_dir);
	if (mkdirat(fd, STORE_CB_DIR, STORE_CB_ROOT_MODE) < 0 &&
	    errno != EEXIST) {
		int r = -errno;

		close(fd);
		return log_errno(r, "%s/%s", s->state_dir, STORE_CB_DIR);
	}
	s->cb_fd = openat(fd, STORE_CB_DIR, STORE_DIR_OPEN);
	close(fd);
	if (s->cb_fd < 0)
		return log_errno(-errno, "%s/%s", s->state_dir, STORE_CB_DIR);
	/* Two stores on one state dir would remove each other's uploads. */
	if (flock(s->cb_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return log_errno(-EBUSY,
					 "state dir %s is in use by "
					 "another store",
					 s->state_dir);
		return log_errno(-errno, "locking %s", s->state_dir);
	}
	if (mkdirat(s->cb_fd, STORE_TRASH_DIR, STORE_DIR_MODE) < 0 &&
	    errno != EEXIST)
		return log_errno(-errno, "%s/%s/%s", s->state_dir, STORE_CB_DIR,
				 STORE_TRASH_DIR);
	return 0;
}

static int store_init(struct store *s, const struct store_config *cfg)
{
	int r;

	r = af_mkdir_p(cfg->state_dir, STORE_DIR_MODE);
	if (r < 0)
		return log_errno(r, "creating state dir %s", cfg->state_dir);
	/* Absolute: snapshot paths are handed to mount(2) later. */
	s->state_dir = realpath(cfg->state_dir, NULL);
	if (!s->state_dir)
		return log_errno(-errno, "state dir %s", cfg->state_dir);
	r = open_cb_root(s);
	if (r < 0)
		return r;
	r = db_open(s);
	if (r < 0)
		return r;
	return store_recover(s);
}

/* Read, not set (umask(2) would change it for every thread meanwhile). */
static uint32_t current_umask(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned m;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			return m & 0777;
	return 0777;
}

int store_open(const struct store_config *cfg, struct store **out)
{
	struct store *s;
	int r;

	if (!cfg || !cfg->state_dir || !*cfg->state_dir)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cb_fd = -1;
	s->max_file_size = cfg->max_file_size;
	s->max_archive_size = cfg->max_archive_size;
	s->max_archive_entries = cfg->max_archive_entries
					 ? cfg->max_archive_entries
					 : STORE_DEFAULT_ARCHIVE_ENTRIES;
	s->umask = current_umask();
	r = pthread_mutex_init(&s->lock, NULL);
	if (r) {
		free(s);
		return -r;
	}
	r = pthread_rwlock_init(&s->trash_lock, NULL);
	if (r) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -r;
	}
	store_flush_init(s);
	r = store_init(s, cfg);
	if (r == 0)
		r = store_flush_start(s);
	if (r < 0) {
		store_close(s);
		return r;
	}
	log_info("store open at %s", s->state_dir);
	*out = s;
	return 0;
}

void store_limits(const struct store *s, uint64_t *max_file_size,
		  uint64_t *max_archive_size, uint32_t *max_archive_entries)
{
	*max_file_size = s->max_file_size;
	*max_archive_size = s->max_archive_size;
	*max_archive_entries = s->max_archive_entries;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_flush_stop(s);
	if (s->db)
		sqlite3_close_v2(s->db);
	if (s->cb_fd >= 0)
		close(s->cb_fd); /* releases the flock */
	pthread_rwlock_destroy(&s->trash_lock);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->flush_cond);
	pthread_mutex_destroy(&s->flush_lock);
	free(s->state_dir);
	free(s);
}
