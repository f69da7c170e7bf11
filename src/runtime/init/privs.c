// SPDX-License-Identifier: Apache-2.0
#include "init.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Commands run as uid 0 with no capability at all: empty bounding set and
 * locked securebits mean no execve (setuid file or not) can bring any back.
 */
int drop_privileges(char *err, size_t len)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	unsigned long bits =
		SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
		SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
		SECBIT_NO_CAP_AMBIENT_RAISE |
		SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0) {
		snprintf(err, len, "securebits: %s", strerror(errno));
		return -1;
	}
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL) {
			snprintf(err, len, "drop cap %d: %s", cap,
				 strerror(errno));
			return -1;
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		snprintf(err, len, "ambient caps: %s", strerror(errno));
		return -1;
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0) {
		snprintf(err, len, "capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (!r && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -1;
	close(fd);
	return r;
}
