#include "uart.h"

#include "io.h"

#define REG_THR 0 /* transmit holding (write) / receive buffer (read) */
#define REG_IER 1
#define REG_IIR 2 /* interrupt identification (read) / FIFO control (write) */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define LSR_DR 0x01   /* a received byte is waiting */
#define LSR_THRE 0x20 /* the transmitter takes another byte */
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define IIR_FIFO_ON 0xc0
#define FIFO_DEPTH 16

/*
 * Bound the wait for THRE: a missing or wedged UART must not hang the guest,
 * since the exit port would then never be reached.
 */
#define THRE_SPINS 100000

/*
 * Each port access is a VM exit, and output dominates a test guest's run
 * time. With a 16550's FIFO, THRE means 16 free slots, so one LSR read
 * covers 16 bytes; a plain 8250 (no FIFO) is polled before every byte.
 */
static int burst = 1;
static int room;

void uart_init(void)
{
	outb(UART_COM1 + REG_IER, 0);
	outb(UART_COM1 + REG_LCR, LCR_DLAB);
	outb(UART_COM1 + 0, 1); /* divisor 1: 115200 baud */
	outb(UART_COM1 + 1, 0);
	outb(UART_COM1 + REG_LCR, LCR_8N1);
	outb(UART_COM1 + REG_MCR, 0x03); /* DTR | RTS */
	/*
	 * Use the FIFOs only if something enabled them already. Switching
	 * them on here would lose input the host sent before we got here
	 * (the echo test sends at once): a 16550 may reset its FIFOs when
	 * they are enabled, and the clear bits certainly would.
	 */
	burst = (inb(UART_COM1 + REG_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON
			? FIFO_DEPTH
			: 1;
	room = 0;
}

void uart_putc(char c)
{
	if (room == 0) {
		for (int i = 0; i < THRE_SPINS; i++)
			if (inb(UART_COM1 + REG_LSR) & LSR_THRE)
				break;
		room = burst;
	}
	room--;
	outb(UART_COM1 + REG_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

int uart_getc_nowait(void)
{
	if (!(inb(UART_COM1 + REG_LSR) & LSR_DR))
		return -1;
	return inb(UART_COM1 + REG_THR);
}
