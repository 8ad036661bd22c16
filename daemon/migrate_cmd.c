/*
 * migrate_cmd.c - `fitd migrate`: parses the command line, runs
 * store_migrate() and prints the counts. All the work is in store/migrate.c.
 */
#include "daemon/migrate_cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "daemon/base/log.h"
#include "store/migrate.h"

static const char usage[] =
    "usage: fitd migrate --from STATE_DIR --to postgresql://…\n"
    "Moves a single-node state (SQLite in STATE_DIR: datasets, jobs, trials, events,\n"
    "models, aliases, out-of-fold predictions) into an empty PostgreSQL database, in\n"
    "one transaction, keeping ids, timestamps and states. Stop the daemon first: a\n"
    "state a daemon has open is refused, and so is a database that holds fitd data.\n"
    "STATE_DIR is only read. Exit status 1 when refused or failed (nothing changed).\n";

int migrate_cmd_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *from = NULL, *to = NULL;
	struct store_migration m;
	struct fitd_error err = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (from == NULL || to == NULL || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	fitd_log_set_level(FITD_LOG_WARN); /* the store's info lines are for a daemon's log */
	if (store_migrate(from, to, &m, &err) != FITD_OK) {
		fprintf(stderr, "fitd migrate: %s (%s)\n", err.message, err.code);
		return 1;
	}
	printf("migrated %s: datasets=%lld columns=%lld jobs=%lld trials=%lld requeued=%lld"
	       " events=%lld models=%lld aliases=%lld oof=%lld\n",
	       from, (long long)m.datasets, (long long)m.columns, (long long)m.jobs,
	       (long long)m.trials, (long long)m.requeued, (long long)m.events, (long long)m.models,
	       (long long)m.aliases, (long long)m.oof);
	return fflush(stdout) == 0 ? 0 : 1;
}
