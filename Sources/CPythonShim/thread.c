// Thread naming; kept apart from Python.h so nothing here depends on pyconfig.h's feature macros.
#include "CPythonShim.h"

#include <sys/prctl.h>

void YThread_SetName(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
