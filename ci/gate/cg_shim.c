/* Callgrind client requests for the gate's worker, called through ctypes.
 * Python cannot issue a client request itself (it is a magic instruction sequence), so this
 * shim is compiled at gate run time against valgrind's own header. Outside valgrind the
 * requests are no-ops. */
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

void gate_zero(void) { CALLGRIND_ZERO_STATS; }
void gate_dump(const char* name) { CALLGRIND_DUMP_STATS_AT(name); }
int gate_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
