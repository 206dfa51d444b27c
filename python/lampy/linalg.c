/* The @ operator. The functions (matmul, dot, outer, tensordot, lampy.linalg.*) come from the
 * library's catalogue (catalog.c). */
#include "lampy_py.h"

#include <string.h>


/* Two operands as arrays (Python numbers weak), or NULL with an exception. */
static int two_operands(PyObject *x, PyObject *y, lp_array **a, lp_array **b, const char *what) {
    PyObject *ops[2] = {x, y};
    lp_array **outs[2] = {a, b};
    int hint = -1;
    if (LpyArray_Check(x)) hint = (int)lp_array_dtype(((LpyArray *)x)->a);
    else if (LpyArray_Check(y)) hint = (int)lp_array_dtype(((LpyArray *)y)->a);
    *a = *b = NULL;
    for (int i = 0; i < 2; i++) {
        int r = lpy_operand(ops[i], hint, outs[i]);
        if (r <= 0) {
            if (r == 0)
                PyErr_Format(PyExc_TypeError, "%s: unsupported operand type %.100s", what,
                             Py_TYPE(ops[i])->tp_name);
            lp_array_release(*a);
            *a = NULL;
            return -1;
        }
    }
    return 0;
}

PyObject *lpy_matmul(PyObject *x, PyObject *y) {
    lp_array *a, *b, *out = NULL;
    if (two_operands(x, y, &a, &b, "matmul") < 0) return NULL;
    lp_status st = lp_matmul(lpy.ctx, a, b, &out);
    lp_array_release(a);
    lp_array_release(b);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}
