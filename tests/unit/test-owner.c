/* placeholder: replaced by the module's real tests */
#include <stdio.h>
int main(void) { printf("not written yet\n"); return 77; }
