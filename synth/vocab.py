"""Word lists the generator draws names and titles from (fixed text, not tunable rates)."""

from __future__ import annotations

from pathlib import Path

# Characters common in Chinese trade names (字号); real trade names come from data/.
TRADE_CHARS = (
    "华芯科达瑞博恒鑫盛源泰信创联宏新天中海金宇德安佳睿智誉晟昊凯旭航远威腾飞龙凤明光"
    "辉耀星月云峰川山林森江河湖洋澜清润泽浩瀚鸿鹏翔嘉祥和美丽雅欣悦康健福禄寿喜富贵隆"
    "昌兴旺达通畅顺利捷迅速精密微纳芯元素方圆正道诚朗坤乾宸晨曦阳春秋冬夏东南西北英杰"
    "豪骏驰铭皓璟琪瑾瑜璐珂琳玲珑翠碧蓝青紫赤橙丹朱彤赫奕弘毅锐锋钧铄锦绣纬经纶维拓展"
    "启航帆舟桥梁栋材力量能动电磁声视讯网络数智算芯片晶硅钛钨铜镍锂钴稀土贝尔斯特莱克"
    "普菲奥迪赛亚欧美澳加德法意汇聚合众群集团队卓越优胜超凡尚品质量标准步进振兴复昇晋"
)
TRADE_CHARS = "".join(dict.fromkeys(TRADE_CHARS))  # unique, order kept

FORMS = ("有限公司", "有限责任公司", "股份有限公司")

# One-character typos seen in registry extracts: homophones and look-alike characters.
TYPO_PAIRS = {
    "华": "化",
    "芯": "心",
    "科": "料",
    "技": "枝",
    "达": "大",
    "瑞": "端",
    "博": "搏",
    "恒": "衡",
    "鑫": "金",
    "盛": "胜",
    "源": "原",
    "泰": "秦",
    "信": "新",
    "创": "仓",
    "联": "连",
    "宏": "弘",
    "新": "欣",
    "天": "夭",
    "海": "每",
    "宇": "字",
    "德": "得",
    "安": "按",
    "佳": "家",
    "睿": "锐",
    "智": "知",
    "晟": "盛",
    "昊": "吴",
    "凯": "恺",
    "旭": "绪",
    "航": "杭",
    "远": "园",
    "威": "伟",
    "腾": "滕",
    "飞": "非",
    "龙": "隆",
    "明": "名",
    "光": "广",
    "辉": "晖",
    "电": "屯",
    "子": "仔",
    "微": "徽",
    "精": "菁",
    "密": "蜜",
    "机": "几",
    "械": "戒",
    "材": "才",
    "料": "科",
    "限": "现",
    "责": "则",
    "任": "仁",
    "份": "分",
    "司": "私",
    "公": "工",
    "有": "友",
    "业": "亚",
    "器": "气",
    "设": "没",
    "备": "各",
    "药": "约",
    "生": "升",
    "物": "勿",
    "软": "欤",
    "件": "伴",
    "网": "冈",
    "络": "洛",
    "息": "思",
    "数": "素",
    "据": "居",
    "通": "同",
    "讯": "迅",
}

UNIVERSITIES = (
    "清华大学",
    "北京大学",
    "浙江大学",
    "上海交通大学",
    "复旦大学",
    "南京大学",
    "东南大学",
    "华南理工大学",
    "中山大学",
    "深圳大学",
    "南方科技大学",
    "浙江工业大学",
    "江南大学",
    "苏州大学",
    "南京航空航天大学",
    "南京理工大学",
    "杭州电子科技大学",
    "广东工业大学",
    "哈尔滨工业大学（深圳）",
    "华中科技大学",
    "西安交通大学",
    "中国科学技术大学",
)
INSTITUTES = (
    "中国科学院微电子研究所",
    "中国科学院深圳先进技术研究院",
    "中国科学院宁波材料技术与工程研究所",
    "中国科学院苏州纳米技术与纳米仿生研究所",
    "广东省科学院",
    "江苏省产业技术研究院",
    "之江实验室",
    "鹏城实验室",
    "中国电子科技集团公司第五十五研究所",
    "国家纳米科学中心",
)
FOREIGN_FIRMS = (
    "Intel Corporation",
    "三星电子株式会社",
    "Robert Bosch GmbH",
    "西门子股份公司",
    "株式会社村田制作所",
    "Applied Materials, Inc.",
    "TDK株式会社",
    "Texas Instruments Incorporated",
    "ASML Netherlands B.V.",
    "LG化学株式会社",
    "Continental AG",
    "松下电器产业株式会社",
)
# Regions outside the generated provinces, for firms outside the data.
OUTSIDE_REGIONS = ("北京", "上海", "天津", "重庆", "武汉", "成都", "西安", "合肥", "长沙", "济南")

INVESTOR_SUFFIXES = (
    "创业投资合伙企业（有限合伙）",
    "股权投资基金合伙企业（有限合伙）",
    "创业投资有限公司",
)
INVESTOR_WORDS = ("创新", "产业", "科创", "高新", "成长", "前海", "红土", "元禾", "深创", "毅达")

TALENT_PROGRAMMES = {
    "national": ("国家高层次人才特殊支持计划", "国家海外高层次人才引进计划"),
    "provincial": ("{province}领军人才计划", "{province}创新创业团队计划"),
    "municipal": ("{city}高层次人才计划", "{city}创新人才支持计划"),
}
NATIONAL_AWARDS = ("国家科学技术进步奖", "国家技术发明奖", "国家自然科学奖")
OTHER_AWARDS = ("中国机械工业科学技术奖", "中国电子学会科学技术奖", "中国专利奖")

INSTITUTION_KINDS = {
    "tech_center": "企业技术中心",
    "engineering_center": "工程技术研究中心",
    "design_center": "工业设计中心",
    "key_lab": "重点实验室",
    "research_institute": "研究院",
    "other": "创新中心",
}

TITLE_OBJECTS = (
    "检测装置",
    "控制方法",
    "制备方法",
    "驱动电路",
    "散热结构",
    "传感器",
    "加工工艺",
    "封装结构",
    "数据处理方法",
    "校准系统",
    "复合材料",
    "连接器",
    "调节阀",
    "定位夹具",
    "识别模型",
    "电池模组",
)
TITLE_QUALIFIERS = (
    "高精度",
    "低功耗",
    "多通道",
    "智能化",
    "耐高温",
    "轻量化",
    "自适应",
    "高可靠",
    "模块化",
    "快速",
)

DATA_DIR = Path(__file__).resolve().parent / "data"


def real_trade_names() -> list[str]:
    """Real trade names (2-4 Han characters, Apache-2.0 list, see data/README.md)."""
    text = (DATA_DIR / "trade_names.txt").read_text(encoding="utf-8")
    return sorted({line.strip() for line in text.splitlines() if line.strip()})
