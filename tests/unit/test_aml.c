/* The AML writer: encodings checked byte for byte against the ACPI spec. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "mvm/aml.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ })
#define NBYTES(...) sizeof((const uint8_t[]){ __VA_ARGS__ })

#define expect_bytes(a, ...)                                                \
	do {                                                                \
		cr_assert_eq(aml_status(a), 0);                             \
		cr_assert_eq((a)->len, NBYTES(__VA_ARGS__), "len %zu",      \
			     (a)->len);                                     \
		cr_assert_arr_eq((a)->buf, BYTES(__VA_ARGS__),              \
				 NBYTES(__VA_ARGS__));                      \
	} while (0)

Test(aml, integers_use_shortest_form)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0xfec00000);
	aml_integer(&a, 0x100000000ULL);
	aml_integer(&a, UINT64_MAX);
	expect_bytes(&a, 0x00, 0x01, 0x0a, 0x05, 0x0b, 0x34, 0x12, 0x0c, 0x00,
		     0x00, 0xc0, 0xfe, 0x0e, 0, 0, 0, 0, 1, 0, 0, 0, 0xff);
}

Test(aml, s5_package)
{
	uint8_t buf[64];
	struct aml a;
	size_t pkg;

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "_S5");
	pkg = aml_package(&a, 4);
	aml_integer(&a, 5);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, pkg);
	expect_bytes(&a, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05,
		     0x0a, 0x05, 0x00, 0x00);
}

Test(aml, namestrings)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB.PCI0");
	expect_bytes(&a, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB.PCI0.ISA");
	expect_bytes(&a, 0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		     'I', 'S', 'A', '_');

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "^^FOO");
	expect_bytes(&a, 0x5e, 0x5e, 'F', 'O', 'O', '_');

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\");
	expect_bytes(&a, 0x5c, 0x00);
}

Test(aml, bad_names_are_sticky_errors)
{
	const char *bad[] = { "abc", "TOOLONG", "1ABC", "A..B", "FOO.",
			      "", "\\^X" };
	uint8_t buf[64];
	struct aml a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad[i]);
		cr_assert_eq(aml_status(&a), -EINVAL, "'%s' accepted", bad[i]);
		aml_integer(&a, 7); /* ignored after the error */
		cr_assert_eq(aml_status(&a), -EINVAL);
	}
}

Test(aml, pkglength_boundaries)
{
	static uint8_t body[0x2000];
	uint8_t buf[0x3000];
	struct aml a;
	size_t m;

	/* Body 62: total 63 fits one byte (0x3f). */
	aml_init(&a, buf, sizeof(buf));
	m = aml_scope(&a, "\\");
	aml_bytes(&a, body, 62 - 2); /* NameString "\" is 2 bytes */
	aml_end(&a, m);
	cr_assert_eq(a.len, 1 + 1 + 62);
	cr_assert_eq(buf[1], 0x3f);

	/* Body 63: a one-byte total would be 64 > 63, so two bytes: 65. */
	aml_init(&a, buf, sizeof(buf));
	m = aml_scope(&a, "\\");
	aml_bytes(&a, body, 63 - 2);
	aml_end(&a, m);
	cr_assert_eq(a.len, 1 + 2 + 63);
	cr_assert_eq(buf[1], 0x40 | (65 & 0xf));
	cr_assert_eq(buf[2], 65 >> 4);
	cr_assert_eq(buf[3], 0x5c, "body slid down next to the PkgLength");

	/* Body 0x1000: three bytes, total 0x1003. */
	aml_init(&a, buf, sizeof(buf));
	m = aml_scope(&a, "\\");
	aml_bytes(&a, body, 0x1000 - 2);
	aml_end(&a, m);
	cr_assert_eq(a.len, 1 + 3 + 0x1000);
	cr_assert_eq(buf[1], 0x80 | 0x3);
	cr_assert_eq(buf[2], 0x00);
	cr_assert_eq(buf[3], 0x01);
}

Test(aml, nested_objects)
{
	uint8_t buf[128];
	struct aml a;
	size_t scope, dev, meth;

	aml_init(&a, buf, sizeof(buf));
	scope = aml_scope(&a, "\\_SB");
	dev = aml_device(&a, "COM1");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0501");
	meth = aml_method(&a, "_STA", 0, false);
	aml_return(&a);
	aml_integer(&a, 0x0f);
	aml_end(&a, meth);
	aml_end(&a, dev);
	aml_end(&a, scope);
	expect_bytes(&a,
		     0x10, 0x21, 0x5c, '_', 'S', 'B', '_',   /* Scope */
		     0x5b, 0x82, 0x19, 'C', 'O', 'M', '1',    /* Device */
		     0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
		     0x14, 0x09, '_', 'S', 'T', 'A', 0x00,    /* Method */
		     0xa4, 0x0a, 0x0f);
}

Test(aml, eisaid_and_strings_and_buffers)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0A03");
	expect_bytes(&a, 0x0c, 0x41, 0xd0, 0x0a, 0x03);

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "mvm");
	expect_bytes(&a, 0x0d, 'm', 'v', 'm', 0x00);

	aml_init(&a, buf, sizeof(buf));
	aml_buffer(&a, BYTES(0x79, 0x00), 2); /* an empty resource template */
	expect_bytes(&a, 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00);

	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "pnp0a03");
	cr_assert_eq(aml_status(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_method(&a, "FOO", 8, false);
	cr_assert_eq(aml_status(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "tab\there");
	cr_assert_eq(aml_status(&a), -EINVAL);
}

Test(aml, overflow_is_reported_not_written)
{
	uint8_t buf[8 + 4];
	struct aml a;

	memset(buf, 0xee, sizeof(buf));
	aml_init(&a, buf, 8);
	aml_name(&a, "_S5");
	aml_integer(&a, 0x12345678); /* 5 more bytes: 10 > 8 */
	cr_assert_eq(aml_status(&a), -ENOSPC);
	cr_assert_leq(a.len, 8);
	cr_assert_eq(buf[8], 0xee, "wrote past the buffer");
}
