#include <stdio.h>
int main(void) { puts("memlab"); return 0; }
