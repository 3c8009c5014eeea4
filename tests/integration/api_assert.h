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
/*
 * InstanceStart after a start that failed: mvm tears the failed VM down
 * behind its answer and says "still being torn down" until it is done;
 * retried for up to 2 s. Returns the last answer's status, r filled.
 */
struct api_resp;
int api_start_again(const char *sock, struct api_resp *r);

#endif
