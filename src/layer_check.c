/*
 * The program each layer is linked into alone, with only the layers below
 * it (src/meson.build): linking it is the check that no layer calls up.
 * It is never run.
 */
int main(void)
{
	return 0;
}
