"""zjtx-discovery: proactive discovery of high-quality SMEs (工信部企业〔2026〕2号, Article 9)."""
