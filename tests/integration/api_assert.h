/*
 * Criterion assertions on one API call, for the tests that make many:
 * the call, its expected status and, for a refusal, the words its
 * fault_message must contain. A failure names the method, the path, the
 * body sent and the answer.
 */
#ifndef MVM_TEST_API_ASSERT_H
#define MVM_TEST_API_ASSERT_H

/* method path body must answer 204. */
void api_ok(const char *sock, const char *method, const char *path,
	    const char *body);
/* method path body must answer status with text in its fault_message. */
void api_fault(const char *sock, const char *method, const char *path,
	       const char *body, int status, const char *text);

#endif
