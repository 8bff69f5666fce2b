IncludedValue := 99;
Print("included\n");
