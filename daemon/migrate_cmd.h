/*
 * migrate_cmd.h - `fitd migrate --from STATE_DIR --to postgresql://…`: the
 * command around store_migrate() (store/migrate.h), which does the work.
 */
#ifndef DAEMON_MIGRATE_CMD_H
#define DAEMON_MIGRATE_CMD_H

/*
 * argv[0] is "migrate". Prints what was moved on stdout; 0 on success, 1
 * when the migration was refused or failed (the reason on stderr, nothing
 * changed), 2 on a usage error.
 */
int migrate_cmd_main(int argc, char **argv);

#endif
