/*
 * test_config.c - flags, the config file, their precedence and the one-line
 * refusals of bad values.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/base/log.h"

static enum config_result load(struct fitd_config *cfg, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"fitd";
	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return config_load(cfg, argc, argv);
}

static char *write_temp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/fitd-config-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(defaults)
{
	struct fitd_config cfg;
	const char *args[] = { NULL };

	unsetenv("STATE_DIRECTORY");
	ck_assert_int_eq(load(&cfg, args), CONFIG_RUN);
	ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.listen_port, 8080);
	ck_assert_str_eq(cfg.state_dir, "./fitd-state");
	ck_assert_int_eq(cfg.log_level, FITD_LOG_INFO);
	ck_assert_int_eq(cfg.max_columns, 4096);
	ck_assert_str_eq(cfg.token_file, "");
	ck_assert_int_eq(cfg.rate_limit_ip, 100);
	ck_assert_int_eq(cfg.max_jobs_per_token, 100);
	ck_assert_int_eq(cfg.rate_limit_predict, 2000);
	ck_assert_int_eq(cfg.rate_burst_predict, 4000);
	ck_assert(cfg.retention_days == 0);
	ck_assert_int_eq(cfg.stream_poll_ms, 5000);
}
END_TEST

/* retention-days takes decimals (a test runs it at 2 s), and prints back as it was given. */
START_TEST(retention_days_decimal)
{
	static const char *const bad[] = { "-1", "36501", "nan", "inf", "", "1d", "0x" };
	char *path = write_temp("retention-days = 0.5\nrate-limit-predict = 5000\n");
	const char *file_args[] = { "--config", path, NULL };
	const char *flag_args[] = { "--retention-days", "0.00002", NULL };
	struct fitd_config cfg;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(load(&cfg, file_args), CONFIG_RUN);
	ck_assert(cfg.retention_days == 0.5);
	ck_assert_int_eq(cfg.rate_limit_predict, 5000);
	unlink(path);
	ck_assert_int_eq(load(&cfg, flag_args), CONFIG_RUN);
	ck_assert(cfg.retention_days == 0.00002);
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "\nretention-days = 2e-05\n"));
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = { "--retention-days", bad[i], NULL };

		ck_assert_msg(load(&cfg, args) == CONFIG_ERROR, "'%s' accepted", bad[i]);
	}
}
END_TEST

START_TEST(state_directory_from_systemd)
{
	struct fitd_config cfg;
	const char *args[] = { NULL };

	setenv("STATE_DIRECTORY", "/var/lib/fitd", 1);
	ck_assert_int_eq(load(&cfg, args), CONFIG_RUN);
	ck_assert_str_eq(cfg.state_dir, "/var/lib/fitd");
	unsetenv("STATE_DIRECTORY");
}
END_TEST

START_TEST(flags)
{
	struct fitd_config cfg;
	const char *args[] = {
		"--listen",	 "[::1]:9001", "--state-dir=/tmp/s", "--log-level", "debug",
		"--max-columns", "12",	       "--stream-poll-ms",   "60000",	    NULL
	};

	ck_assert_int_eq(load(&cfg, args), CONFIG_RUN);
	ck_assert_str_eq(cfg.listen_host, "::1");
	ck_assert_uint_eq(cfg.listen_port, 9001);
	ck_assert_str_eq(cfg.state_dir, "/tmp/s");
	ck_assert_int_eq(cfg.log_level, FITD_LOG_DEBUG);
	ck_assert_int_eq(cfg.max_columns, 12);
	ck_assert_int_eq(cfg.stream_poll_ms, 60000);
}
END_TEST

START_TEST(file_then_flags_override)
{
	struct fitd_config cfg;
	char *path = write_temp("# comment\n\nlisten = 0.0.0.0:7000\nmax-columns = 99\n"
				"  log-level = warn  \ntoken-file = /etc/fitd/tokens\n");
	const char *args[] = { "--config", path, "--max-columns", "7", NULL };

	ck_assert_int_eq(load(&cfg, args), CONFIG_RUN);
	ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
	ck_assert_uint_eq(cfg.listen_port, 7000);
	ck_assert_int_eq(cfg.max_columns, 7);
	ck_assert_int_eq(cfg.log_level, FITD_LOG_WARN);
	ck_assert_str_eq(cfg.token_file, "/etc/fitd/tokens");
	unlink(path);
}
END_TEST

/* Without a token file every route is open: only a loopback address may listen. */
START_TEST(open_api_only_on_loopback)
{
	static const char *const loopback[] = { "127.0.0.1:1", "127.9.8.7:1", "[::1]:1",
						"localhost:1", "[::ffff:127.0.0.2]:1" };
	static const char *const exposed[] = { "0.0.0.0:1",	     "[::]:1",	      "10.0.0.1:1",
					       "128.0.0.1:1",	     "example.com:1", "[::2]:1",
					       "[::ffff:10.0.0.1]:1" };
	struct fitd_config cfg;

	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		const char *args[] = { "--listen", loopback[i], NULL };

		ck_assert_msg(load(&cfg, args) == CONFIG_RUN, "%s refused", loopback[i]);
	}
	for (size_t i = 0; i < sizeof(exposed) / sizeof(exposed[0]); i++) {
		const char *open_args[] = { "--listen", exposed[i], NULL };
		const char *token_args[] = { "--listen", exposed[i], "--token-file", "/t", NULL };

		ck_assert_msg(load(&cfg, open_args) == CONFIG_ERROR, "%s accepted", exposed[i]);
		ck_assert_msg(load(&cfg, token_args) == CONFIG_RUN, "%s refused", exposed[i]);
	}
}
END_TEST

START_TEST(bad_values_refused)
{
	static const char *const cases[][3] = {
		{ "--listen", "8080", NULL },	    { "--listen", "host:99999", NULL },
		{ "--listen", ":80", NULL },	    { "--max-columns", "0", NULL },
		{ "--max-columns", "12x", NULL },   { "--log-level", "loud", NULL },
		{ "--http-threads", "-1", NULL },   { "--nonsense", NULL, NULL },
		{ "stray-argument", NULL, NULL },   { "--max-rows", "99999999999999999999", NULL },
		{ "--stream-poll-ms", "99", NULL },
	};
	struct fitd_config cfg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(load(&cfg, cases[i]) == CONFIG_ERROR, "case %zu accepted", i);
}
END_TEST

START_TEST(bad_file_refused)
{
	static const char *const files[] = { "unknown-key = 1\n", "listen\n", "max-columns = -3\n",
					     "help = 1\n" };
	struct fitd_config cfg;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = write_temp(files[i]);
		const char *args[] = { "--config", path, NULL };

		ck_assert_msg(load(&cfg, args) == CONFIG_ERROR, "file %zu accepted", i);
		unlink(path);
	}
	{
		const char *args[] = { "--config", "/nonexistent/fitd.conf", NULL };

		ck_assert_int_eq(load(&cfg, args), CONFIG_ERROR);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, retention_days_decimal);
	tcase_add_test(tc, state_directory_from_systemd);
	tcase_add_test(tc, flags);
	tcase_add_test(tc, file_then_flags_override);
	tcase_add_test(tc, open_api_only_on_loopback);
	tcase_add_test(tc, bad_values_refused);
	tcase_add_test(tc, bad_file_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
