/* SPDX-License-Identifier: Apache-2.0 */
/* Event layout shared by lsm_smoke.bpf.c and its loader, lsm_smoke.c. */
#ifndef AGENTFENSE_VM_LSM_SMOKE_H
#define AGENTFENSE_VM_LSM_SMOKE_H

#define SMOKE_NAME_LEN 64
#define SMOKE_PATH_LEN 256

struct smoke_event {
	unsigned int pid; /* tgid of the task whose open was denied */
	int path_len;	  /* bpf_d_path() result: length with NUL, or -errno */
	char path[SMOKE_PATH_LEN];
};

#endif
