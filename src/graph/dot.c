/* placeholder */
#include "graph/graph.h"
