#ifndef TANDEM_CSYSTEMMEMORY_SHIM_H
#define TANDEM_CSYSTEMMEMORY_SHIM_H
/* glibc's allocator controls (malloc_trim), which Swift's Glibc module does not export. */
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#define TANDEM_HAS_MALLOC_TRIM 1
#endif
#endif
