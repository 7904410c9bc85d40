/*
 * How many Haskell threads of this process have not finished, for GHCs whose base cannot list threads
 * (before 9.6, see Ghcpw.Compat.liveThreads).
 *
 * Every thread is on the list of exactly one generation until a garbage collection drops it; only a
 * collection and the creation of a thread change the lists. Called as an unsafe foreign call, the caller
 * keeps its capability throughout, so no collection can start; and a thread can only be created on a
 * capability, so with one capability enabled (the caller checks) the lists stay still.
 */
#if __GLASGOW_HASKELL__ < 906
#include "Rts.h"

HsInt ghcpw_live_threads(void)
{
    uint32_t n = RtsFlags.GcFlags.generations;
    /* The size of a generation's record depends on whether the RTS was built threaded, which this file
     * cannot know; the distance from the first generation to the oldest gives the RTS's own. The list
     * of threads comes before every field that differs. */
    ptrdiff_t stride = n > 1 ? ((char *)oldest_gen - (char *)generations) / (ptrdiff_t)(n - 1) : 0;
    HsInt live = 0;
    for (uint32_t g = 0; g < n; g++) {
        generation *gen = (generation *)((char *)generations + g * stride);
        for (StgTSO *t = gen->threads; t != END_TSO_QUEUE; t = t->global_link) {
            if (t->what_next != ThreadComplete && t->what_next != ThreadKilled) live++;
        }
    }
    return live;
}
#endif
