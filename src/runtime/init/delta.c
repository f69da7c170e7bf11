// SPDX-License-Identifier: Apache-2.0
/*
 * The capped delta (src/fs/delta.c): the sandbox's ext4 image on a loop
 * device, mounted in the sandbox's mount namespace only. The loop device
 * is set to autoclear, so it detaches when that mount goes, which happens
 * when the sandbox's last process exits, however the sandbox ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentfense/fs.h"
#include "init.h"

/*
 * Starting sandboxes take the free device one at a time (flock on
 * loop-control); other tools may still race us for it: a few tries.
 */
#define LOOP_TRIES 16

/* A loop device backed by img_fd; its fd, or -errno. */
static int attach_loop(int img_fd, char *dev, size_t devlen)
{
	struct loop_config cfg = { .fd = (unsigned)img_fd,
				   .info = { .lo_flags = LO_FLAGS_AUTOCLEAR } };
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r = -ENODEV;

	if (ctl < 0)
		return -errno;
	/* Released by the close: held while a device is chosen and bound. */
	(void)flock(ctl, LOCK_EX);
	for (int i = 0; i < LOOP_TRIES; i++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE), fd;

		if (nr < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, devlen, "/dev/loop%d", nr);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			close(ctl);
			return fd;
		}
		r = -errno;
		close(fd);
		if (r != -EBUSY)
			break;
		usleep(1000u << (i < 4 ? i : 4)); /* someone else's: wait */
	}
	close(ctl);
	return r;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* The upper dir's mode is what /workspace shows. */
	return chmod(path, 0755) < 0 ? -errno : 0;
}

int delta_mount(const char *image, char *err, size_t len)
{
	char dev[32];
	int img, loop, r = 0;

	img = open(image, O_RDWR | O_CLOEXEC);
	if (img < 0) {
		snprintf(err, len, "open delta image: %s", strerror(errno));
		return -errno;
	}
	loop = attach_loop(img, dev, sizeof(dev));
	close(img);
	if (loop < 0) {
		snprintf(err, len, "loop device for the delta: %s",
			 strerror(-loop));
		return loop;
	}
	/* noinit_itable: no background zeroing that would fill the image. */
	if (mount(dev, FS_DELTA_MOUNT, "ext4", MS_NOSUID | MS_NODEV,
		  "noinit_itable") < 0)
		r = -errno;
	close(loop); /* the mount holds the device now */
	if (r < 0) {
		snprintf(err, len, "mount the delta image: %s", strerror(-r));
		return r;
	}
	if ((r = make_dir(FS_DELTA_MOUNT "/delta")) < 0 ||
	    (r = make_dir(FS_DELTA_MOUNT "/work")) < 0)
		snprintf(err, len, "delta directories: %s", strerror(-r));
	return r;
}
