/*
 * A small writer of ACPI Machine Language (ACPI spec, "ACPI Source Language
 * (ASL) Reference" and "ACPI Machine Language (AML) Specification"), enough
 * to build a DSDT by hand: names, integers, strings, packages, buffers,
 * scopes, devices and methods.
 *
 * Objects with a PkgLength (scope, device, method, package) are opened with
 * the call that returns a mark and closed with aml_end(mark); they nest.
 * Errors are sticky: after the first one (no room, a bad name) every call
 * does nothing and aml_status() reports it, so a builder checks once at the
 * end instead of after every call.
 */
#ifndef MVM_AML_H
#define MVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int status; /* 0, or the first error: -ENOSPC, -EINVAL */
};

void aml_init(struct aml *a, void *buf, size_t cap);
/* 0 when everything written so far fitted and was valid. */
int aml_status(const struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* The shortest encoding: ZeroOp, OneOp, OnesOp, or a Byte..QWord const. */
void aml_integer(struct aml *a, uint64_t v);
/* String constant; s must be printable ASCII. */
void aml_string(struct aml *a, const char *s);
/*
 * A NameString: optional "\" or "^" prefixes, then dot-separated segments
 * of up to 4 characters [A-Z0-9_] ("_S5", "\\_SB.PCI0"); short segments are
 * padded with '_' as ASL does.
 */
void aml_namestring(struct aml *a, const char *path);
/* EISA id ("PNP0A03") compressed into a DWord constant, like ASL EISAID. */
void aml_eisaid(struct aml *a, const char *id);
/* Buffer holding n bytes of data (a resource template, for instance). */
void aml_buffer(struct aml *a, const void *data, size_t n);

/* Name(path, value): write the value right after this call. */
void aml_name(struct aml *a, const char *path);
/* Return(value): write the value right after this call. */
void aml_return(struct aml *a);

size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *path);
size_t aml_method(struct aml *a, const char *path, unsigned nargs,
		  bool serialized);
/* Package with nelems elements (at most 255), written before aml_end. */
size_t aml_package(struct aml *a, unsigned nelems);
/* Close the object opened at mark, filling in its PkgLength. */
void aml_end(struct aml *a, size_t mark);

/* AML opcodes, for tests and for callers emitting what is not wrapped. */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_METHOD 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_PREFIX 0x5b
#define AML_EXT_DEVICE 0x82
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_CHAR 0x5e
#define AML_RETURN 0xa4
#define AML_ONES 0xff

#endif
