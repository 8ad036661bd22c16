#include <stdio.h>

#include "fitd_config.h"

int main(void)
{
	printf("fitd %s\n", FITD_VERSION);
	return 0;
}
