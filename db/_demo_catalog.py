"""Internals of the demo generator: reference data (product catalogue, cities, stores,
addresses), the array containers :mod:`db.demo_data` passes between its steps, and the choice of
where the known problems are injected.

Pure numpy; every random choice comes from the generator passed in, so one seed gives one
catalogue. Used only by :mod:`db.demo_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BRAND = "惠宜选"
BAG_CATEGORY = "耗材"


def _words(text: str) -> list[str]:
    return text.split()


# (一级分类, gross-margin range, popularity weight, ((三级分类, items, specs), ...)).
# items: space-separated names, "name*factor" scales the price; specs: "pack=base price in yuan".
# Each item × spec is one SKU.
_CATEGORIES: tuple = (
    ("水果", (0.27, 0.36), 1.4, (
        ("苹果梨", "红富士苹果 阿克苏冰糖心苹果 烟台栖霞苹果 嘎啦果 库尔勒香梨 砀山酥梨 丰水梨 皇冠梨",
         "约500g=7.9 约1kg=14.9 4个装=16.9"),
        ("柑橘橙柚", "赣南脐橙 沃柑 砂糖橘 丑橘 红心蜜柚 金桔 血橙 耙耙柑",
         "约500g=8.9 约1.5kg=24.9 精选装=19.9"),
        ("香蕉", "香蕉 小米蕉 帝王蕉",
         "约500g=4.9 约1kg=8.9"),
        ("浆果葡萄", "阳光玫瑰葡萄 巨峰葡萄 蓝莓 草莓 车厘子*1.8 树莓 夏黑葡萄",
         "125g盒装=15.9 250g=24.9 500g=42.9"),
        ("瓜类", "麒麟西瓜 无籽西瓜 哈密瓜 网纹瓜 羊角蜜 木瓜",
         "1/4个=9.9 半个=17.9 整个约3kg=29.9"),
        ("热带水果", "金钻凤梨 芒果 火龙果 牛油果 猕猴桃 百香果 榴莲*3.0 山竹",
         "1个=7.9 约500g=12.9 4个装=19.9"),
        ("鲜切果盒", "西瓜切块 哈密瓜切块 菠萝切块 混合果切 芒果切块",
         "200g=9.9 400g=16.9"),
    )),
    ("蔬菜", (0.30, 0.42), 1.0, (
        ("叶菜", "上海青 菠菜 生菜 油麦菜 大白菜 娃娃菜 空心菜 茼蒿 韭菜 芹菜",
         "约300g=3.5 约500g=5.5"),
        ("根茎", "土豆 胡萝卜 白萝卜 铁棍山药 莲藕 红薯 洋葱 生姜 大蒜 芋头",
         "约500g=3.9 约1kg=6.9"),
        ("茄果瓜类", "西红柿 黄瓜 茄子 青椒 螺丝椒 南瓜 冬瓜 苦瓜 西葫芦 甜玉米",
         "约500g=4.9 约1kg=8.9"),
        ("菌菇", "香菇 金针菇 平菇 杏鲍菇 白玉菇 蟹味菇",
         "约200g=4.5 约400g=7.9"),
        ("豆制品", "北豆腐 内酯豆腐 千张 腐竹 黄豆芽 香干",
         "1盒=3.5 2盒装=6.5"),
    )),
    ("肉禽蛋", (0.20, 0.30), 1.0, (
        ("猪肉", "五花肉 猪里脊 前腿肉 猪肋排 猪蹄 精肉末",
         "约300g=15.9 约500g=24.9"),
        ("牛羊肉", "牛腩 牛里脊 肥牛卷 羊肉卷 羊排 牛腱子",
         "约250g=32.9 约500g=59.9"),
        ("禽肉", "鸡胸肉 鸡全腿 鸡翅中 鸡爪 老母鸡 鸭腿",
         "约400g=13.9 约800g=24.9"),
        ("鲜蛋", "土鸡蛋 鲜鸡蛋 可生食鸡蛋 鸭蛋 鹌鹑蛋",
         "10枚装=12.9 15枚装=17.9 30枚装=32.9"),
        ("水产", "基围虾 鲈鱼 草鱼块 巴沙鱼柳 带鱼段 花甲",
         "约300g=19.9 约500g=32.9"),
        ("速冻食品", "三全水饺 思念汤圆 湾仔码头水饺 安井鱼丸 正大蒸饺 必品阁王饺子",
         "450g=16.9 1kg=32.9"),
    )),
    ("乳品烘焙", (0.25, 0.33), 1.0, (
        ("纯牛奶", "蒙牛纯牛奶 伊利纯牛奶 特仑苏纯牛奶 金典纯牛奶 光明纯牛奶 三元纯牛奶",
         "250ml=3.5 250ml*12盒=45.9 250ml*16盒=59.9"),
        ("酸奶", "安慕希酸奶 纯甄酸奶 简爱酸奶 莫斯利安酸奶 乐纯酸奶 简醇酸奶 卡士酸奶",
         "200g=5.9 4杯装=15.9 10瓶装=54.9"),
        ("鲜奶", "光明鲜牛奶 每日鲜语鲜牛奶 蒙牛鲜牛奶 三元鲜牛奶",
         "450ml=9.9 950ml=17.9"),
        ("面包", "桃李醇熟切片面包 宾堡切片面包 曼可顿全麦面包 达利园法式软面包 盼盼手撕面包 港荣蒸蛋糕",
         "1袋=7.9 大袋装=13.9"),
        ("蛋糕甜点", "泸溪河桃酥 好丽友派 达利园蛋黄派 奶油泡芙 瑞士卷 老婆饼",
         "1盒=12.9 家庭装=22.9"),
        ("奶酪黄油", "妙可蓝多奶酪棒 百吉福芝士片 安佳黄油",
         "1袋=19.9 大包装=39.9"),
    )),
    ("休闲零食", (0.32, 0.42), 1.2, (
        ("薯片膨化", "乐事原味薯片 乐事黄瓜味薯片 可比克薯片 品客薯片 上好佳鲜虾片 旺旺仙贝 奇多粟米棒 "
                 "好丽友薯愿",
         "小包=5.9 大包=9.9 家庭装=16.9"),
        ("饼干", "奥利奥夹心饼干 趣多多曲奇 3+2苏打夹心饼干 嘉士利薄脆 好吃点饼干 太平梳打饼干 百醇饼干棒 "
               "百奇饼干棒",
         "小盒=6.9 大盒=12.9"),
        ("坚果炒货", "三只松鼠每日坚果 洽洽香瓜子 夏威夷果 碧根果 沃隆每日坚果 洽洽小黄袋 开心果 巴旦木",
         "小袋=9.9 大袋=29.9 礼盒=69.9"),
        ("糖果巧克力", "德芙巧克力 士力架 费列罗 大白兔奶糖 阿尔卑斯棒棒糖 益达口香糖 绿箭口香糖 "
                  "M&M's巧克力豆 彩虹糖",
         "单条=4.5 袋装=12.9 分享装=29.9"),
        ("肉干卤味", "卫龙大面筋 猪肉脯 周黑鸭鸭脖 绝味鸭锁骨 有友泡椒凤爪 劲仔小鱼 风干牛肉干 "
                 "盐津铺子鹌鹑蛋",
         "小包=4.9 中包=12.9 大包=24.9"),
        ("方便速食", "康师傅红烧牛肉面 统一老坛酸菜面 今麦郎一桶半 白象汤好喝 合味道杯面 自嗨锅 "
                 "螺霸王螺蛳粉 拉面说",
         "单包=4.5 5连包=14.9 桶装=5.5"),
    )),
    ("饮料", (0.28, 0.35), 1.5, (
        ("饮用水", "农夫山泉 怡宝纯净水 百岁山 娃哈哈纯净水 景田纯净水 冰露",
         "550ml=2.0 1.5L=4.0 550ml*12瓶=18.9 4L桶装=9.9"),
        ("碳酸饮料", "可口可乐 百事可乐 雪碧 芬达橙味 美年达 元气森林苏打气泡水 七喜",
         "330ml罐装=3.0 500ml=3.5 1.25L=5.9 330ml*6罐=16.9"),
        ("茶饮料", "康师傅冰红茶 统一冰红茶 东方树叶 三得利乌龙茶 康师傅绿茶 茶π 小茗同学",
         "500ml=4.0 1L=6.5 500ml*15瓶=45.9"),
        ("果汁", "美汁源果粒橙 汇源100%橙汁 农夫果园 零度果坊 味全每日C",
         "450ml=4.5 1.5L=12.9 300ml=6.5"),
        ("功能饮料", "红牛 东鹏特饮 脉动 尖叫 佳得乐 战马 外星人电解质水",
         "单瓶=6.0 6瓶装=32.9 整箱24瓶=119.0"),
        ("乳饮咖啡", "雀巢咖啡 星巴克星冰乐 养乐多 旺仔牛奶 维他奶 六个核桃 AD钙奶",
         "单瓶=5.5 4瓶装=19.9 整箱=49.9"),
    )),
    ("酒水", (0.17, 0.25), 0.6, (
        ("啤酒", "青岛啤酒 雪花啤酒 百威啤酒 哈尔滨啤酒 燕京啤酒 乐堡啤酒 1664白啤 科罗娜",
         "330ml罐装=5.0 500ml罐装=7.0 330ml*6罐=27.9 500ml*12罐=59.0"),
        ("白酒", "牛栏山二锅头*0.4 红星二锅头*0.4 江小白*0.5 泸州老窖*1.2 洋河海之蓝*1.3 汾酒*1.0 "
               "五粮液*6.0 剑南春*2.5",
         "100ml=15.0 500ml=128.0"),
        ("葡萄酒", "张裕干红*0.8 长城干红*0.8 奔富红酒*2.0 拉菲传奇*1.6 黄尾袋鼠*1.0",
         "750ml=89.0"),
        ("预调酒", "RIO鸡尾酒 锐澳微醺 梅见青梅酒 果立方",
         "330ml=8.5 330ml*6罐=45.9"),
    )),
    ("粮油调味", (0.18, 0.26), 0.6, (
        ("米面", "五常大米 东北珍珠米 泰国香米 金龙鱼面粉 挂面 陈克明面条",
         "1kg=12.9 5kg=49.9"),
        ("食用油", "金龙鱼调和油 鲁花花生油 福临门大豆油 多力葵花籽油 胡姬花花生油",
         "900ml=19.9 5L=79.9"),
        ("调味品", "海天生抽 海天老抽 李锦记蚝油 恒顺香醋 太太乐鸡精 中盐精制盐 老干妈风味豆豉 "
                "王守义十三香 郫县豆瓣酱 白砂糖",
         "小瓶=6.9 大瓶=13.9"),
        ("南北干货", "黑木耳 银耳 和田红枣 宁夏枸杞 干香菇 紫菜",
         "100g=12.9 250g=26.9"),
    )),
    ("日用百货", (0.32, 0.45), 0.6, (
        ("纸品", "维达抽纸 清风抽纸 心相印卷纸 洁柔手帕纸 得宝纸巾 婴儿湿巾",
         "单包=3.5 3包装=9.9 整提=29.9"),
        ("清洁用品", "蓝月亮洗衣液 立白洗洁精 威猛先生清洁剂 滴露消毒液 加厚垃圾袋 84消毒液",
         "小瓶=9.9 大瓶=29.9"),
        ("个人护理", "高露洁牙膏 云南白药牙膏 舒肤佳香皂 海飞丝洗发水 力士沐浴露 软毛牙刷 卫生巾 洗面奶",
         "单支=12.9 家庭装=39.9"),
        ("家居用品", "一次性纸杯 保鲜膜 南孚电池 打火机 折叠雨伞 数据线",
         "1个=5.9 组合装=15.9"),
    )),
)
_FRESH_L3 = frozenset({"苹果梨", "柑橘橙柚", "香蕉", "浆果葡萄", "瓜类", "热带水果", "鲜切果盒", "叶菜",
                       "根茎", "茄果瓜类", "菌菇", "猪肉", "牛羊肉", "禽肉", "水产"})
# Bags in basket-size order: small, medium, large (price, unit cost) in cents.
_BAGS = (("小号购物袋", 20, 3), ("中号购物袋", 50, 6), ("大号购物袋", 100, 10))

# city → [(district, landmark)]; roads per city for addresses.
CITY_SITES: dict[str, list[tuple[str, str]]] = {
    "武汉": [("洪山区", "光谷"), ("洪山区", "街道口"), ("洪山区", "南湖"), ("武昌区", "楚河汉街"),
           ("武昌区", "徐东"), ("武昌区", "积玉桥"), ("江汉区", "武广"), ("江汉区", "江汉路"),
           ("汉阳区", "王家湾"), ("汉阳区", "钟家村"), ("江岸区", "后湖"), ("江岸区", "二七"),
           ("青山区", "青山"), ("汉阳区", "沌口"), ("江汉区", "菱角湖")],
    "长沙": [("芙蓉区", "五一广场"), ("雨花区", "德思勤"), ("岳麓区", "梅溪湖"), ("雨花区", "万家丽"),
           ("岳麓区", "大学城"), ("长沙县", "星沙"), ("雨花区", "东塘"), ("芙蓉区", "袁家岭"),
           ("开福区", "开福寺"), ("开福区", "伍家岭"), ("雨花区", "高桥"), ("岳麓区", "洋湖"),
           ("天心区", "侯家塘")],
    "成都": [("锦江区", "春熙路"), ("高新区", "天府三街"), ("高新区", "金融城"), ("武侯区", "玉林"),
           ("成华区", "建设路"), ("武侯区", "双楠"), ("青羊区", "宽窄巷子"), ("青羊区", "光华"),
           ("锦江区", "九眼桥"), ("成华区", "驷马桥"), ("武侯区", "大悦城"), ("郫都区", "犀浦"),
           ("高新区", "大源")],
    "重庆": [("渝中区", "解放碑"), ("江北区", "观音桥"), ("南岸区", "南坪"), ("沙坪坝区", "三峡广场"),
           ("九龙坡区", "杨家坪"), ("渝中区", "大坪"), ("江北区", "北城天街"), ("渝北区", "冉家坝"),
           ("沙坪坝区", "大学城"), ("渝北区", "龙头寺"), ("九龙坡区", "石桥铺"), ("南岸区", "弹子石"),
           ("渝北区", "礼嘉")],
    "西安": [("雁塔区", "小寨"), ("碑林区", "钟楼"), ("雁塔区", "曲江"), ("新城区", "北大街"),
           ("莲湖区", "土门"), ("未央区", "凤城五路"), ("新城区", "长乐坊"), ("雁塔区", "电子城"),
           ("雁塔区", "大雁塔"), ("未央区", "经开区"), ("灞桥区", "纺织城"), ("碑林区", "南门"),
           ("新城区", "大明宫")],
    "郑州": [("二七区", "二七广场"), ("金水区", "花园路"), ("郑东新区", "CBD"), ("二七区", "大学路"),
           ("中原区", "碧沙岗"), ("金水区", "经三路"), ("中原区", "绿城广场"), ("高新区", "科学大道"),
           ("管城回族区", "航海路"), ("二七区", "陇海路"), ("管城回族区", "紫荆山"), ("郑东新区", "龙湖"),
           ("金水区", "国贸360")],
    "合肥": [("庐阳区", "三孝口"), ("蜀山区", "天鹅湖"), ("包河区", "滨湖"), ("包河区", "万达"),
           ("蜀山区", "政务区"), ("庐阳区", "四牌楼"), ("蜀山区", "大学城"), ("瑶海区", "瑶海万达"),
           ("庐阳区", "杏林"), ("蜀山区", "南七"), ("包河区", "宁国路"), ("蜀山区", "高新区"),
           ("蜀山区", "长江西路")],
    "南昌": [("东湖区", "八一广场"), ("红谷滩区", "红谷滩"), ("西湖区", "中山路"), ("青山湖区", "青山湖"),
           ("红谷滩区", "万达"), ("西湖区", "绳金塔"), ("东湖区", "北京西路"), ("高新区", "艾溪湖"),
           ("西湖区", "朝阳新城"), ("新建区", "昌北"), ("青云谱区", "象湖"), ("高新区", "瑶湖"),
           ("东湖区", "八一大桥")],
}
CITY_ROADS: dict[str, list[str]] = {
    "武汉": _words("珞喻路 雄楚大道 中北路 解放大道 建设大道 民族大道 友谊大道 汉阳大道"),
    "长沙": _words("五一大道 芙蓉中路 韶山北路 人民东路 麓山南路 万家丽路 劳动西路 开福大道"),
    "成都": _words("人民南路 天府大道 蜀都大道 建设北路 科华北路 一环路 二环路 光华大道"),
    "重庆": _words("民族路 建新北路 南坪正街 天星桥正街 杨家坪正街 龙湖大道 金开大道 学城大道"),
    "西安": _words("长安路 小寨东路 雁塔路 北大街 凤城五路 太白南路 含光路 科技路"),
    "郑州": _words("花园路 金水路 中原路 大学路 农业路 航海路 商都路 经三路"),
    "合肥": _words("长江西路 金寨路 徽州大道 芜湖路 宁国路 望江路 黄山路 潜山路"),
    "南昌": _words("八一大道 红谷中大道 阳明路 北京西路 中山路 青山湖大道 艾溪湖路 丰和大道"),
}
_COMMUNITIES = tuple(_words(
    "金地格林小城 万科城市花园 保利花园 碧桂园 恒大名都 绿地国际 龙湖春江 中海国际社区 融创御湖 "
    "世茂茂悦府 招商雍景湾 华润二十四城 东方雅园 阳光家园 幸福里 锦绣华庭 翡翠城 滨江苑 学府花园 "
    "和平小区 金色港湾 凤凰城 书香门第 翰林苑 星河湾 御景园 百合苑 银杏小区 同心家园 丽都花园 "
    "职工宿舍 新城国际 橡树湾 天悦府 大学教工小区 花语城"
))
FRANCHISE_TYPES = ("直营", "加盟", "托管")
_NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Catalog:
    names: np.ndarray  # object
    barcodes: np.ndarray  # object, None when the SKU has only a 店内码
    codes: np.ndarray  # object (店内码)
    category_l1: np.ndarray
    category_l3: np.ndarray
    list_cents: np.ndarray  # int64
    cost_cents: np.ndarray  # int64, unit purchase cost
    popularity: np.ndarray  # float64, 0 for consumables
    bag_skus: tuple[int, int, int]  # small, medium, large bag

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def sku_keys(self) -> np.ndarray:
        """Barcode when present, else 店内码 (how the ground truth names a SKU)."""
        return np.where(self.barcodes == None, self.codes, self.barcodes)  # noqa: E711


@dataclass(frozen=True)
class StoreTable:
    codes: np.ndarray  # object
    names: np.ndarray
    cities: np.ndarray
    districts: np.ndarray
    franchise: np.ndarray
    base_orders: np.ndarray  # float64 mean orders per day

    @property
    def size(self) -> int:
        return len(self.codes)


def ean13_check_digit(first12: str) -> int:
    """EAN-13 check digit for a 12-digit string."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def _nice_cents(yuan: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shelf prices: x.90 / x.50 / x.80 / x.00 / x.99 endings, 0.X0 below 1 yuan."""
    whole = np.floor(yuan).astype(np.int64)
    ending = rng.choice(np.array([90, 50, 80, 0, 99]), size=len(yuan), p=[0.45, 0.2, 0.15, 0.1, 0.1])
    cents = np.where(whole >= 1, whole * 100 + ending, np.rint(yuan * 10).astype(np.int64) * 10)
    return np.maximum(cents, 10)


def build_catalog(rng: np.random.Generator) -> Catalog:
    """About 800 SKUs over ten 一级分类 with category-typical prices and margins."""
    names, l1s, l3s, base, margins, pops, fresh = [], [], [], [], [], [], []
    for l1, (m_lo, m_hi), pop, subcats in _CATEGORIES:
        for l3, item_text, spec_text in subcats:
            specs = [(spec, float(price)) for spec, _, price in map(_split_spec, spec_text.split())]
            for item in item_text.split():
                name, _, scale = item.partition("*")
                factor = float(scale or 1.0) * rng.uniform(0.8, 1.3)
                for j, (spec, price) in enumerate(specs):
                    if len(specs) > 1 and rng.random() < 0.08:
                        continue  # not every pack size exists for every item
                    names.append(f"{name} {spec}")
                    l1s.append(l1)
                    l3s.append(l3)
                    base.append(price * factor)
                    margins.append(rng.uniform(m_lo, m_hi))
                    pops.append(pop / (1.0 + 0.6 * j))
                    fresh.append(l3 in _FRESH_L3)
    n_goods = len(names)
    list_cents = _nice_cents(np.array(base), rng)
    cost_cents = np.rint(list_cents * (1.0 - np.array(margins))).astype(np.int64)
    # Cheaper items sell more often (a 24-can case is not a top seller).
    popularity = np.array(pops) * rng.lognormal(0.0, 1.1, size=n_goods) * (list_cents / 1000.0) ** -0.4
    for name, price, cost in _BAGS:
        names.append(name)
        l1s.append(BAG_CATEGORY)
        l3s.append("购物袋")
        fresh.append(False)
        list_cents = np.append(list_cents, price)
        cost_cents = np.append(cost_cents, cost)
        popularity = np.append(popularity, 0.0)
    n = len(names)
    fresh_arr = np.array(fresh)
    no_barcode = fresh_arr & (rng.random(n) < 0.85)
    barcodes = np.empty(n, dtype=object)
    bodies = _unique_bodies(rng, n)
    for i in range(n):
        if not no_barcode[i]:
            first12 = f"69{bodies[i]:010d}"
            barcodes[i] = first12 + str(ean13_check_digit(first12))
    l1_index = {name: k for k, (name, *_rest) in enumerate(_CATEGORIES)}
    codes = np.empty(n, dtype=object)
    for i in range(n):
        codes[i] = f"{20 + l1_index.get(l1s[i], 9):02d}{10000 + i:05d}"
    return Catalog(
        names=np.array(names, dtype=object),
        barcodes=barcodes,
        codes=codes,
        category_l1=np.array(l1s, dtype=object),
        category_l3=np.array(l3s, dtype=object),
        list_cents=list_cents.astype(np.int64),
        cost_cents=cost_cents.astype(np.int64),
        popularity=popularity,
        bag_skus=(n - 3, n - 2, n - 1),
    )


def _split_spec(token: str) -> tuple[str, str, str]:
    return token.rpartition("=")


def _unique_bodies(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 10-digit numbers (barcode bodies after the 69 country prefix)."""
    bodies = np.unique(rng.integers(10**8, 10**10, size=n * 2))
    return rng.permutation(bodies)[:n]


def build_stores(n: int, rng: np.random.Generator) -> StoreTable:
    """n stores spread over the cities; sizes small/medium/large ≈ 25/50/90 orders a day."""
    cities = list(CITY_SITES)
    city_of = np.array([cities[i % len(cities)] for i in rng.permutation(n)], dtype=object)
    used: dict[str, int] = {}
    names, districts = [], []
    for city in city_of:
        sites = CITY_SITES[city]
        k = used.get(city, 0)
        used[city] = k + 1
        district, landmark = sites[k % len(sites)]
        repeat = k // len(sites)
        suffix = "店" if repeat == 0 else f"{_NUMERALS[min(repeat, 9)]}店"
        if repeat >= 10:
            suffix = f"{repeat + 1}店"
        names.append(f"{BRAND}-{city}{landmark}{suffix}")
        districts.append(district)
    codes = 1_100_000 + np.cumsum(rng.integers(7, 600, size=n))
    size = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])
    base = np.array([25.0, 50.0, 90.0])[size] * rng.lognormal(0.0, 0.1, size=n)
    return StoreTable(
        codes=np.array([str(c) for c in codes], dtype=object),
        names=np.array(names, dtype=object),
        cities=city_of,
        districts=np.array(districts, dtype=object),
        franchise=rng.choice(np.array(FRANCHISE_TYPES, dtype=object), size=n, p=[0.4, 0.45, 0.15]),
        base_orders=base,
    )


def build_addresses(store: int, stores: StoreTable, count: int, rng: np.random.Generator) -> list[str]:
    """A pool of delivery addresses around one store (mostly its own district)."""
    city = stores.cities[store]
    districts = sorted({d for d, _ in CITY_SITES[city]})
    roads = CITY_ROADS[city]
    own = rng.random(count) < 0.8
    district_pick = rng.integers(0, len(districts), size=count)
    road = rng.integers(0, len(roads), size=count)
    number = rng.integers(1, 400, size=count)
    community = rng.integers(0, len(_COMMUNITIES), size=count)
    building = rng.integers(1, 30, size=count)
    unit = rng.integers(1, 5, size=count)
    floor = rng.integers(1, 33, size=count)
    room = rng.integers(1, 5, size=count)
    out = []
    for i in range(count):
        district = stores.districts[store] if own[i] else districts[district_pick[i]]
        out.append(
            f"{city}市{district}{roads[road[i]]}{number[i]}号{_COMMUNITIES[community[i]]}"
            f"{building[i]}栋{unit[i]}单元{floor[i]}{room[i]:02d}室"
        )
    return out


# ------------------------------------------------------------------ containers used by demo_data


@dataclass
class Roles:
    """Where the known problems are injected (store indices, SKU indices, day indices)."""

    traffic_stores: np.ndarray
    margin_stores: np.ndarray
    closed_store: int
    closed_day: int
    loss_stores: np.ndarray
    zero_fee_stores: np.ndarray
    stockouts: list[tuple[int, int, int]] = field(default_factory=list)  # (store, sku, from_day)
    below_cost: list[tuple[int, int, int]] = field(default_factory=list)  # (store, sku, from_day)
    slow_movers: list[tuple[int, int, int]] = field(default_factory=list)  # (store, sku, last_day)
    block_from: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    below_cost_from: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    role_mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))


@dataclass
class Orders:
    """One entry per order, sorted by time; money in cents once priced."""

    store: np.ndarray
    day: np.ndarray
    sec: np.ndarray  # seconds after midnight
    channel: np.ndarray  # index into demo_data.CHANNELS
    addr: np.ndarray  # index into address_texts, -1 for 收银机
    km: np.ndarray  # NaN for 收银机
    platform: np.ndarray  # index into demo_data.PLATFORMS, -1 for 收银机
    new_customer: np.ndarray
    loss: np.ndarray  # injected far-distance loss orders
    zero_fee: np.ndarray  # injected fee-channel orders without platform fee
    address_texts: list[str]
    money: dict[str, np.ndarray] = field(default_factory=dict)
    revenue: np.ndarray | None = None  # Σ 实收价格 × 月售
    actual: np.ndarray | None = None  # Σ利润额 − 平台服务费 − 物流配送费 + 企客后返
    ids: object = None  # 订单ID (a pyarrow string array, set when the texts are built)


@dataclass
class Lines:
    """One entry per SKU line, grouped by order."""

    order: np.ndarray
    store: np.ndarray
    day: np.ndarray
    sku: np.ndarray
    is_bag: np.ndarray
    qty: np.ndarray
    stock: np.ndarray
    money: dict[str, np.ndarray] = field(default_factory=dict)
    below: np.ndarray | None = None  # injected below-cost lines


# ------------------------------------------------------------------------ where problems go


def plan_stores(n: int, days: int, rng: np.random.Generator) -> Roles:
    """Pick the stores that get store-level problems (distinct where the store count allows)."""
    perm = rng.permutation(n)

    def pick(start: int, count: int) -> np.ndarray:
        return perm[[(start + i) % n for i in range(min(count, n))]]

    windows = days >= 14 and n >= 3
    closed_day = -1
    if days >= 3:
        lo, hi = max(1, days // 4), days - 16 if days >= 20 else days - 1
        closed_day = int(rng.integers(lo, max(hi, lo + 1)))
    return Roles(
        traffic_stores=pick(0, 2) if windows else perm[:0],
        margin_stores=pick(2, 2) if windows else perm[:0],
        closed_store=int(pick(4, 1)[0]) if closed_day >= 0 else -1,
        closed_day=closed_day,
        loss_stores=pick(n - 5 if n > 5 else 0, 5),
        zero_fee_stores=pick(5, 3),
    )


def choose_sku_roles(cat: Catalog, roles: Roles, n: int, days: int, store: np.ndarray, day: np.ndarray,
                     sku: np.ndarray, is_bag: np.ndarray, rng: np.random.Generator) -> None:
    """Pick stockout, below-cost and slow-mover SKUs from each store's measured sellers."""
    n_sku = cat.size
    early = ~is_bag & (day < days - 5)
    sold = np.bincount(store[early] * n_sku + sku[early], minlength=n * n_sku).reshape(n, n_sku)
    ranked = np.argsort(-sold, axis=1, kind="stable")
    roles.block_from = np.full((n, n_sku), days + 1)
    roles.below_cost_from = np.full((n, n_sku), days + 1)
    roles.role_mask = np.zeros((n, n_sku), dtype=bool)
    if days < 8:
        return
    order = rng.permutation(n)
    for i in range(min(5, n)):
        s = int(order[i % n])
        k = int(ranked[s, 0])  # its best seller so far
        if roles.role_mask[s, k]:
            continue
        length = int(rng.integers(2, 6))
        roles.stockouts.append((s, k, days - length))
        roles.block_from[s, k] = days - length
        roles.role_mask[s, k] = True
    order = rng.permutation(n)
    for i in range(min(5, n)):
        s = int(order[i])
        options = [int(k) for k in ranked[s, 3:15] if cat.cost_cents[k] >= 300 and not roles.role_mask[s, k]]
        if options:
            k = options[int(rng.integers(0, len(options)))]
            from_day = max(days // 2, days - int(rng.integers(8, 15)))
            roles.below_cost_from[s, k] = from_day
            roles.below_cost.append((s, k, from_day))
            roles.role_mask[s, k] = True
    idle_buckets = [(3, 7), (7, 15), (15, 26)]  # idle days [lo, hi): 3–6, 7–14, ≥15
    for s in range(n):
        options = [int(k) for k in ranked[s, 20:80] if sold[s, k] > 0 and not roles.role_mask[s, k]]
        picks = rng.permutation(len(options))
        for j, (lo, hi) in enumerate(idle_buckets):
            top = min(hi, days - 4)  # the SKU must have sold for a few days before going idle
            if lo >= top or j >= len(picks):
                continue
            idle = int(rng.integers(lo, top))
            k = options[picks[j]]
            roles.slow_movers.append((s, k, days - 1 - idle))
            roles.block_from[s, k] = days - idle
            roles.role_mask[s, k] = True


def force_last_sales(roles: Roles, days: int, store: np.ndarray, day: np.ndarray, sku: np.ndarray,
                     is_bag: np.ndarray, loss: np.ndarray) -> None:
    """Make sure every slow mover sells on its last-sale day (or the nearest day before)."""
    cell = store * days + day
    by_cell = np.argsort(cell, kind="stable")
    sorted_cell = cell[by_cell]
    for s, k, last_day in roles.slow_movers:
        for d in range(last_day, -1, -1):
            lo, hi = np.searchsorted(sorted_cell, [s * days + d, s * days + d + 1])
            segment = by_cell[lo:hi]
            if np.any(sku[segment] == k):
                break
            ok = segment[~is_bag[segment] & ~loss[segment] & ~roles.role_mask[s, sku[segment]]]
            if len(ok):
                sku[ok[0]] = k
                break
