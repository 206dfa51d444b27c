/* Rounds of a calibration's figures spread over its whole span (calibrate.h, lpi_cal_sampler). */
#include "exec/calibrate.h"

int lpi_cal_due(int want, int have, int tick, int ticks) {
    if (ticks < 1) ticks = 1;
    if (tick >= ticks) tick = ticks - 1;
    /* round j of want falls at tick round(j (ticks - 1) / (want - 1)): the first at the first
     * tick, the last at the last, evenly between them */
    const int upto = want <= 1 || ticks == 1 ? want
                                             : (int)((2LL * tick + 1) * (want - 1) / (2LL * (ticks - 1))) + 1;
    return upto > have ? upto - have : 0;
}

static lp_status take(lpi_cal_sampler *s, int k) {
    for (; k > 0 && s->n < s->want && s->n < LPI_CAL_ROUNDS; k--) {
        double v[2] = {0, 0};
        lp_status st = s->round(s->arg, s->n, v);
        if (st) return st;
        s->v[0][s->n] = v[0];
        s->v[1][s->n] = v[1];
        s->n++;
    }
    return LP_OK;
}

lp_status lpi_cal_tick(lpi_cal_ticks *t) {
    for (int i = 0; i < t->ns; i++) {
        lp_status st = take(t->s[i], lpi_cal_due(t->s[i]->want, t->s[i]->n, t->tick, t->ticks));
        if (st) return st;
    }
    t->tick++;
    return LP_OK;
}

lp_status lpi_cal_finish(lpi_cal_ticks *t) {
    for (int i = 0; i < t->ns; i++) {
        lp_status st = take(t->s[i], t->s[i]->want - t->s[i]->n);
        if (st) return st;
    }
    return LP_OK;
}
