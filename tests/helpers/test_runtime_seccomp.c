// SPDX-License-Identifier: Apache-2.0
/*
 * The default seccomp profile, from the outside: each try-syscall case runs
 * in a child that drops every capability (as commands in a sandbox do),
 * installs the profile and execs the helper. Here the profile refuses with
 * a marker errno no kernel path returns, so a refusal can only come from
 * the filter; the same cases run without the filter must never show the
 * marker, which is what lets the profile test fail.
 *
 *   usage: test_runtime_seccomp PATH/TO/try-syscall
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentfense/cleanup.h"
#include "../../src/runtime/init/seccomp.h"

#define MARKER		 EHWPOISON
#define KILLED_BY_SIGSYS (128 + SIGSYS)

struct tcase {
	char name[64];
	char expect[16];
};

struct suite {
	const char *helper;
	struct tcase cases[256];
	size_t n;
	bool ia32; /* int 0x80 works on this kernel */
};

static const char *helper_path;

/* In the child: no capability now or after execve, as in a sandbox. */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	if (geteuid() != 0)
		return;
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0,
		  0) < 0 ||
	    syscall(SYS_capset, &hdr, data) < 0)
		_exit(254);
}

/* Run one case; its exit code, or 128+N when killed by signal N. */
static int run_case(const char *helper, const char *name, bool filtered)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null < 0 || dup2(null, 1) < 0)
			_exit(254);
		drop_capabilities();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(254);
		if (filtered && af_seccomp_apply() < 0)
			_exit(253);
		execl(helper, helper, name, (char *)NULL);
		_exit(252);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static int expected_code(const char *expect)
{
	if (!strcmp(expect, "allow"))
		return 0;
	if (!strcmp(expect, "deny"))
		return MARKER;
	if (!strcmp(expect, "enosys"))
		return ENOSYS;
	if (!strcmp(expect, "kill"))
		return KILLED_BY_SIGSYS;
	fail_msg("try-syscall --list: unknown expectation %s", expect);
	return -1;
}

static int load_cases(void **state)
{
	static struct suite s;
	_cleanup_free_ char *cmd = NULL;
	FILE *f;

	s.helper = helper_path;
	if (asprintf(&cmd, "'%s' --list", s.helper) < 0)
		return -1;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (s.n < ARRAY_SIZE(s.cases) &&
	       fscanf(f, "%63s %15s", s.cases[s.n].name, s.cases[s.n].expect) ==
		       2)
		s.n++;
	if (pclose(f) != 0 || s.n == 0) {
		fprintf(stderr, "cannot list the cases of %s\n", s.helper);
		return -1;
	}
	s.ia32 = run_case(s.helper, "int80-getpid", false) == 0;
	*state = &s;
	return 0;
}

static void test_bad_errno_is_refused(void **state)
{
	char err[256] = "";

	assert_int_equal(af_seccomp_prepare(0, err, sizeof(err)), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "deny errno"));
	assert_int_equal(af_seccomp_prepare(4096, err, sizeof(err)), -EINVAL);
}

/* Nothing prepared: apply must fail, not run commands unfiltered. */
static void test_apply_needs_a_prepared_filter(void **state)
{
	af_seccomp_release();
	errno = 0;
	assert_int_equal(af_seccomp_apply(), -EINVAL);
	assert_int_equal(errno, EINVAL);
}

static bool has_case(const struct suite *s, const char *call)
{
	size_t n = strlen(call);

	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->cases[i].name, call, n) &&
		    (s->cases[i].name[n] == '\0' || s->cases[i].name[n] == '-'))
			return true;
	return false;
}

static void test_every_refused_call_has_a_case(void **state)
{
	const struct suite *s = *state;
	const char *call;
	int missing = 0;

	for (size_t i = 0; (call = af_seccomp_rule_name(i)); i++) {
		if (!has_case(s, call)) {
			print_message("no try-syscall case for %s\n", call);
			missing++;
		}
	}
	assert_int_equal(missing, 0);
}

static bool skip_case(const struct suite *s, const struct tcase *c)
{
	if (s->ia32 || strncmp(c->name, "int80-", 6))
		return false;
	print_message("skip %s: int 0x80 does not work here even without "
		      "a filter (no IA32 emulation)\n",
		      c->name);
	return true;
}

static void test_profile(void **state)
{
	const struct suite *s = *state;
	char err[256] = "";
	int wrong = 0;

	assert_int_equal(af_seccomp_prepare(MARKER, err, sizeof(err)), 0);
	for (size_t i = 0; i < s->n; i++) {
		const struct tcase *c = &s->cases[i];
		int want = expected_code(c->expect), got;

		if (skip_case(s, c))
			continue;
		got = run_case(s->helper, c->name, true);
		if (got != want) {
			print_message("%s (%s): exit %d, want %d\n", c->name,
				      c->expect, got, want);
			wrong++;
		}
	}
	af_seccomp_release();
	assert_int_equal(wrong, 0);
}

/*
 * Without the filter no case may look refused by it, and the controls
 * must work: otherwise test_profile would prove nothing.
 */
static void test_unfiltered_cases_look_different(void **state)
{
	const struct suite *s = *state;
	int wrong = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct tcase *c = &s->cases[i];
		int want = expected_code(c->expect);
		int got = run_case(s->helper, c->name, false);
		bool ok = want == 0 ? got == 0 : got != want;

		if (got >= 252 || !ok) {
			print_message("unfiltered %s: exit %d (%s)\n", c->name,
				      got, want ? "must differ" : "must be 0");
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_errno_is_refused),
		cmocka_unit_test(test_apply_needs_a_prepared_filter),
		cmocka_unit_test(test_every_refused_call_has_a_case),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_unfiltered_cases_look_different),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/try-syscall\n", argv[0]);
		return 2;
	}
	helper_path = argv[1];
	return cmocka_run_group_tests(tests, load_cases, NULL);
}
