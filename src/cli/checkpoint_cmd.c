/*
 * Checkpoints of a running mvm, from the command line: each action is
 * one request to its API over the socket it serves.
 *   mvm checkpoint create|apply|delete --api-sock PATH NAME
 *   mvm checkpoint list --api-sock PATH
 *   mvm checkpoint config --api-sock PATH DIR
 * The answer's JSON is printed; any status but 2xx is one line on stderr
 * (the API's fault_message) and exit status 1.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/err.h"
#include "mvm/run.h"
#include "mvm/vmm.h"
#include "mvm/vmm_checkpoint.h"

#include "uds_http.h"

const char cli_checkpoint_usage[] =
	"usage: mvm checkpoint create|apply|delete --api-sock PATH NAME\n"
	"       mvm checkpoint list --api-sock PATH\n"
	"       mvm checkpoint config --api-sock PATH DIR\n"
	"\n"
	"Checkpoints of the VM of the mvm serving the API at PATH:\n"
	"  create NAME   take checkpoint NAME of the running or paused VM\n"
	"                (its state, memory and writable drives)\n"
	"  apply NAME    revert the VM to checkpoint NAME, in place\n"
	"  delete NAME   remove checkpoint NAME\n"
	"  list          the checkpoints, oldest first, with their sizes\n"
	"  config DIR    keep checkpoints in DIR (an existing directory)\n"
	"NAME: 1 to 64 characters of [A-Za-z0-9._-], not starting with '.'.\n"
	"\n"
	"The API's JSON answer is printed. Exit status: 0 done, 1 bad\n"
	"arguments, no answer, or an answer other than 2xx (one line says\n"
	"why).\n";

struct action {
	const char *name;
	const char *method;
	const char *operand; /* NULL: none */
};

static const struct action actions[] = {
	{ "create", "PUT", "NAME" },
	{ "apply", "PUT", "NAME" },
	{ "delete", "DELETE", "NAME" },
	{ "list", "GET", NULL },
	{ "config", "PUT", "DIR" },
};

struct ckpt_args {
	const struct action *act;
	const char *sock;
	const char *operand;
};

static const struct action *find_action(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i].name, name))
			return &actions[i];
	return NULL;
}

/* argv[2..]: --api-sock PATH (or --api-sock=PATH) and the operand. */
static int parse_args(int argc, char **argv, struct ckpt_args *a,
		      struct mvm_err *err)
{
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "--api-sock")) {
			if (i + 1 == argc)
				return mvm_fail(err, -EINVAL, "--api-sock "
						"needs the socket's path");
			a->sock = argv[++i];
		} else if (!strncmp(s, "--api-sock=", 11)) {
			a->sock = s + 11;
		} else if (s[0] == '-' && s[1]) {
			return mvm_fail(err, -EINVAL, "unknown option '%s'", s);
		} else if (!a->act->operand || a->operand) {
			return mvm_fail(err, -EINVAL, "unexpected argument "
					"'%s'", s);
		} else {
			a->operand = s;
		}
	}
	if (!a->sock || !*a->sock)
		return mvm_fail(err, -EINVAL, "needs --api-sock PATH (the "
				"socket of the mvm to ask)");
	if (a->act->operand && !a->operand)
		return mvm_fail(err, -EINVAL, "needs %s", a->act->operand);
	if (a->act->operand && !strcmp(a->act->operand, "NAME"))
		return vmm_checkpoint_name_check(a->operand, err);
	return 0;
}

/* The request: its path into path, its body (config's) into *body. */
static void request(const struct ckpt_args *a, char *path, size_t len,
		    json_object **body)
{
	const char *name = a->act->name;

	*body = NULL;
	if (!strcmp(name, "list")) {
		snprintf(path, len, "/checkpoints");
	} else if (!strcmp(name, "config")) {
		snprintf(path, len, "/checkpoints/config");
		*body = json_object_new_object();
		json_object_object_add(*body, "dir",
				       json_object_new_string(a->operand));
	} else {
		snprintf(path, len, "/checkpoints/%s%s", a->operand,
			 !strcmp(name, "apply") ? "/apply" : "");
	}
}

/* The answer: its JSON on out, or its fault on errs. */
static int answer(const struct ckpt_args *a, const struct uds_resp *r,
		  FILE *out, FILE *errs)
{
	json_object *j = r->len ? json_tokener_parse(r->body) : NULL, *m;
	bool ok = r->status >= 200 && r->status < 300;
	const char *why = "(no fault_message)";

	if (!ok && json_object_object_get_ex(j, "fault_message", &m))
		why = json_object_get_string(m);
	else if (ok && r->len && !j)
		why = "the answer is not JSON";
	if (!ok || (r->len && !j)) {
		fprintf(errs, "mvm checkpoint %s: %d: %s\n", a->act->name,
			r->status, why);
		json_object_put(j);
		return MVM_EXIT_START_FAILED;
	}
	if (j)
		fprintf(out, "%s\n", json_object_to_json_string_ext(j,
			JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return fflush(out) ? MVM_EXIT_START_FAILED : MVM_EXIT_OK;
}

int cli_checkpoint(int argc, char **argv, FILE *out, FILE *errs)
{
	struct mvm_err err = { .msg = "" };
	struct ckpt_args a = { 0 };
	struct uds_resp r;
	json_object *body;
	char path[128];
	int ret;

	if (argc < 2) {
		fputs(cli_checkpoint_usage, errs);
		return MVM_EXIT_START_FAILED;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(cli_checkpoint_usage, out);
		return MVM_EXIT_OK;
	}
	a.act = find_action(argv[1]);
	if (!a.act) {
		fprintf(errs, "mvm checkpoint: unknown action '%s' (create, "
			"list, apply, delete or config; see mvm checkpoint "
			"--help)\n", argv[1]);
		return MVM_EXIT_START_FAILED;
	}
	if (parse_args(argc, argv, &a, &err)) {
		fprintf(errs, "mvm checkpoint %s: %s\n", a.act->name, err.msg);
		return MVM_EXIT_START_FAILED;
	}
	request(&a, path, sizeof(path), &body);
	ret = uds_http(a.sock, a.act->method, path, body ?
		       json_object_to_json_string_ext(body, API_JSON_FLAGS) :
		       NULL, &r, &err);
	json_object_put(body);
	if (ret) {
		fprintf(errs, "mvm checkpoint %s: %s\n", a.act->name, err.msg);
		return MVM_EXIT_START_FAILED;
	}
	ret = answer(&a, &r, out, errs);
	uds_resp_free(&r);
	return ret;
}

int mvm_cmd_checkpoint(int argc, char **argv)
{
	return cli_checkpoint(argc, argv, stdout, stderr);
}
