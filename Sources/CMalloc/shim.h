// glibc's malloc statistics and trimming (malloc.h), which the Glibc module does not export.
// Elsewhere the functions report nothing and trim nothing.
#ifndef TANDEM_CMALLOC_SHIM_H
#define TANDEM_CMALLOC_SHIM_H

#include <stddef.h>
#if defined(__linux__)
#include <malloc.h>
#endif

/// Bytes in free chunks the allocator holds (mallinfo2 fordblks), 0 where unknown.
static inline size_t tandem_malloc_free_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    return info.fordblks;
#else
    return 0;
#endif
}

/// Returns whole free pages inside every arena to the kernel (malloc_trim(0)); 1 when it released
/// memory.
static inline int tandem_malloc_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

#endif
