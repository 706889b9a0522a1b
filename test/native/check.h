/*
 * CHECK(cond): the assertion of the native C tests (conformance.c, test/reliability/
 * hostile_plugin.c). A failed check prints where, counts, and returns from the current test
 * function; g_checks counts every check. Each test program prints the totals at exit.
 */
#ifndef HOSTALLOC_TEST_CHECK_H
#define HOSTALLOC_TEST_CHECK_H
#include <stdio.h>

static int g_failed, g_checks;
#define CHECK(c)                                                            \
  do {                                                                      \
    g_checks++;                                                             \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      g_failed++;                                                           \
      return;                                                               \
    }                                                                       \
  } while (0)
#endif
