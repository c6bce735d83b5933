/*
 * aequactl: the operator's command line. Each subcommand lives in its own cli/cmd_*.c file and is
 * one row of the table in aequactl.c. Exit codes: 0 ok, 1 failure, 2 usage, 78 bad config/lock.
 */
#ifndef AEQUA_CLI_AEQUACTL_H
#define AEQUA_CLI_AEQUACTL_H

int cmd_status(int argc, char **argv);
int cmd_duty(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_wal(int argc, char **argv);
int cmd_tx(int argc, char **argv);

#endif
