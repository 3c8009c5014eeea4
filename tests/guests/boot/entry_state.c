#include "entry_state.h"

#include "../lib/report.h"

bool entry_check_prot32(uint32_t eflags, uint32_t cr0)
{
	if (!(cr0 & CR0_PE))
		fail("entry", "CR0.PE clear (cr0=0x%x)", cr0);
	else if (cr0 & CR0_PG)
		fail("entry", "paging on (cr0=0x%x)", cr0);
	else if (eflags & EFLAGS_IF)
		fail("entry", "interrupts on (eflags=0x%x)", eflags);
	else if (eflags & EFLAGS_VM)
		fail("entry", "virtual-8086 mode (eflags=0x%x)", eflags);
	else {
		pass("entry");
		return true;
	}
	return false;
}
