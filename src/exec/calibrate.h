/* What the two calibrations (calibrate.c: this machine; calibrate_remote.c: the lambda
 * executor) share: the log of their measurements, one line each. */
#ifndef LP_EXEC_CALIBRATE_H
#define LP_EXEC_CALIBRATE_H

typedef struct lpi_cal_log {
    void (*log)(void *arg, const char *line); /* NULL: no log */
    void *arg;
} lpi_cal_log;

void lpi_cal_say(const lpi_cal_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
